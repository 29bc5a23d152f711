// The account page's auto-assign switch and team queues: shown when the
// API answers (the switch needs xa_sup_auto-assign), kept as the page
// loaded it; Join opens the call page, where joining takes the request.

const csrf = document.querySelector('form[action="/logout"] input[name="_csrf"]')?.value || "";
const json = { credentials: "same-origin", headers: { Accept: "application/json" } };

async function autoAssign() {
  const card = document.getElementById("auto-assign");
  if (!card) return;
  const resp = await fetch("/api/v1/me/auto-assign", json);
  if (!resp.ok) return;
  const state = await resp.json();
  const box = document.getElementById("auto-assign-on");
  const note = document.getElementById("auto-assign-note");
  box.checked = state.on;
  card.hidden = false;
  box.addEventListener("change", async () => {
    box.disabled = true;
    const r = await fetch("/api/v1/me/auto-assign", {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ on: box.checked }),
    });
    box.disabled = false;
    if (r.ok) {
      note.textContent = box.checked ? "Auto-assign is on." : "Auto-assign is off: you are offered no request.";
    } else {
      box.checked = !box.checked;
      const e = await r.json().catch(() => ({}));
      note.textContent = e.error || "The switch could not be changed.";
    }
  });
}

async function teamQueues() {
  const card = document.getElementById("team-queues");
  if (!card) return;
  let shown = 0;
  for (const row of card.querySelectorAll("tr[data-queue-team]")) {
    const resp = await fetch(`/api/v1/teams/${encodeURIComponent(row.dataset.queueTeam)}/queue`, json);
    if (!resp.ok) continue;
    card.hidden = false;
    for (const q of await resp.json()) {
      const tr = document.createElement("tr");
      tr.dataset.call = q.entry.session_id;
      const cells = [row.dataset.teamName, `${q.caller_name} · ${q.subject}`, new Date(q.entry.enqueued_at).toLocaleString()];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const td = document.createElement("td");
      td.className = "actions";
      const a = document.createElement("a");
      a.className = "btn btn-sm btn-primary";
      a.href = `/calls/${encodeURIComponent(q.entry.session_id)}`;
      a.textContent = "Join";
      td.append(a);
      tr.append(td);
      row.after(tr);
      shown++;
    }
  }
  card.querySelector("tr[data-queue-none]").hidden = shown > 0;
}

autoAssign();
teamQueues();
