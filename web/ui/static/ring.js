// Incoming calls on every backoffice page. The page keeps a WebSocket to
// GET /api/v1/events; the node sends incoming_call when a call rings the
// user (a guest opened their service-request link) and ring_stopped when
// it no longer does (answered, declined on any of their pages, ended by
// the caller). Accept opens the call page, where joining answers the
// call; Decline stops the ring, and the call stays on the start page's
// waiting calls, joinable until the caller ends it.
//
// A colleague's direct call carries its url: the call lives on the
// caller's node, maybe another node of the federation, where Accept takes
// the user. call_status tells a caller what became of their direct call
// (declined, answered, no_answer, ended).

const csrf = document.querySelector('form[action="/logout"] input[name="_csrf"]')?.value || "";
const rings = new Map(); // call id -> {card, since}
const baseTitle = document.title;
const ringFor = 45_000; // the sound stops after this; the panel stays
let stack = null;
let unloading = false;

// The call page a direct call opened (?ringing) listens for what becomes
// of the ring only: a user in a call is not rung there.
const callPage = document.body.classList.contains("call");
const dialing = callPage && new URLSearchParams(location.search).has("ringing");

if (document.querySelector(".sidebar") || dialing) {
  window.addEventListener("pagehide", () => { unloading = true; });
  connect(0);
}

function connect(attempt) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // The phonebook shows its colleagues' presence live (phonebook.js).
  const presence = document.querySelector("[data-live-presence]") ? "?presence=1" : "";
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events${presence}`);
  ws.addEventListener("open", () => { attempt = 0; socket = ws; reportActivity(true); });
  ws.addEventListener("message", (m) => {
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch {
      return;
    }
    handle(ev);
    if (ev.type === "presence") keepPresence(ev);
    // Other parts of the page (the team dashboard) listen too.
    window.dispatchEvent(new CustomEvent("siteline:event", { detail: ev }));
  });
  ws.addEventListener("close", () => {
    document.body.dataset.events = "closed";
    if (unloading) return;
    // Back off up to 30 s; the node sends what rings now on reconnect.
    setTimeout(() => connect(attempt + 1), Math.min(30_000, 1000 * 2 ** attempt));
  });
}

// keepPresence keeps the colleagues' presence as the events told it
// (window.sitelinePresence: user id -> state, offline users absent), for
// a script of the page that starts listening after the first event came.
function keepPresence(ev) {
  const now = ev.presence_all ? {} : { ...(window.sitelinePresence || {}) };
  for (const [id, state] of Object.entries(ev.presence || {})) {
    if (state === "offline") delete now[id];
    else now[id] = state;
  }
  window.sitelinePresence = now;
}

// Activity on the page (input, focus) is reported on the socket at most
// every half minute: it keeps the user from showing idle on their
// supervisors' team dashboard.
let socket = null;
let lastReport = 0;
function reportActivity(force) {
  if (!socket || socket.readyState !== WebSocket.OPEN || document.hidden) return;
  const now = Date.now();
  if (!force && now - lastReport < 30_000) return;
  lastReport = now;
  socket.send(JSON.stringify({ type: "activity" }));
}
for (const type of ["pointerdown", "keydown", "wheel", "touchstart", "focus"]) {
  window.addEventListener(type, () => reportActivity(false), { passive: true, capture: true });
}
document.addEventListener("visibilitychange", () => reportActivity(false));

function handle(ev) {
  if (callPage && !(ev.type === "call_status" && ev.call_id === document.body.dataset.call)) return;
  switch (ev.type) {
    case "ready":
      document.body.dataset.events = "ready";
      break;
    case "incoming_call":
      showRing(ev);
      waitingRow(ev.call_id, "ringing", ev);
      break;
    case "ring_stopped":
      hideRing(ev.call_id);
      waitingRow(ev.call_id, ev.reason, ev);
      break;
    case "call_status":
      callStatus(ev);
      break;
  }
}

const icons = {
  phone: '<svg class="iv-i" viewBox="0 0 24 24" aria-hidden="true"><path d="M5 4h3.5l2 5-2.4 1.5a11 11 0 0 0 5.4 5.4l1.5-2.4 5 2v3.5a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2"/></svg>',
  hangup: '<svg class="iv-i" viewBox="0 0 24 24" aria-hidden="true"><path d="M3 14.5c5.5-5 12.5-5 18 0l-2.5 3-3.5-1.5v-2.5a11 11 0 0 0-6 0V16L5.5 17.5z"/></svg>',
  video: '<svg class="iv-i" viewBox="0 0 24 24" aria-hidden="true"><rect x="2.5" y="6" width="13" height="12" rx="2"/><path d="m15.5 10.5 6-3.5v10l-6-3.5"/></svg>',
};

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function showRing(ev) {
  if (rings.has(ev.call_id)) return;
  if (!stack) {
    stack = el("div", "ring-stack");
    stack.setAttribute("aria-live", "assertive");
    document.body.append(stack);
  }
  const card = el("section", "ring");
  card.id = `ring-${ev.call_id}`;
  card.dataset.call = ev.call_id;
  card.dataset.state = "ringing";
  card.setAttribute("role", "alertdialog");
  card.setAttribute("aria-label", `Incoming call from ${ev.caller_name}`);
  const icon = el("div", "ring-icon");
  icon.innerHTML = icons.phone;
  const text = el("div", "ring-text");
  text.append(el("p", "ring-eyebrow", "Incoming call"), el("h2", "ring-caller", ev.caller_name || "A guest"));
  if (ev.subject) text.append(el("p", "ring-subject", ev.subject));
  const actions = el("div", "ring-actions");
  const decline = el("button", "ring-btn ring-decline");
  decline.type = "button";
  decline.dataset.ringDecline = ev.call_id;
  decline.innerHTML = icons.hangup;
  decline.append(el("span", "", "Decline"));
  const accept = el("button", "ring-btn ring-accept");
  accept.type = "button";
  accept.dataset.ringAccept = ev.call_id;
  accept.innerHTML = icons.video;
  accept.append(el("span", "", "Accept"));
  actions.append(decline, accept);
  card.append(icon, text, actions);
  stack.append(card);
  rings.set(ev.call_id, { card, since: Date.now() });
  accept.addEventListener("click", () => {
    stopSound();
    location.assign(ev.url || `/calls/${encodeURIComponent(ev.call_id)}`);
  });
  decline.addEventListener("click", () => declineCall(ev.call_id, decline));
  document.title = `Incoming call · ${baseTitle}`;
  startSound(); // the panel does not take the focus: a key typed elsewhere must not answer
}

const statusNote = {
  declined: (who) => `${who} declined your call.`,
  no_answer: (who) => `${who} did not answer.`,
  answered: (who) => `${who} joined your call.`,
};

function callStatus(ev) {
  const text = statusNote[ev.reason];
  if (!text) return;
  const note = el("p", "ring-note", text(ev.caller_name || "Your colleague"));
  note.setAttribute("role", "status");
  note.dataset.call = ev.call_id;
  note.dataset.reason = ev.reason;
  document.body.append(note);
  setTimeout(() => note.remove(), 8000);
}

function hideRing(id) {
  const r = rings.get(id);
  if (!r) return;
  r.card.remove();
  rings.delete(id);
  if (rings.size === 0) {
    stopSound();
    document.title = baseTitle;
  }
}

async function declineCall(id, button) {
  button.setAttribute("aria-busy", "true");
  try {
    const resp = await fetch(`/api/v1/calls/${encodeURIComponent(id)}/decline`, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
    });
    if (!resp.ok) {
      const data = await resp.json().catch(() => ({}));
      throw new Error(data.error || `the node answered ${resp.status}`);
    }
    hideRing(id); // ring_stopped follows on every page
  } catch (err) {
    const r = rings.get(id);
    if (r) {
      r.card.querySelector(".ring-error")?.remove();
      r.card.append(el("p", "ring-error", `Could not decline: ${err.message}`));
    }
  } finally {
    button.removeAttribute("aria-busy");
  }
}

// ---- sound: a soft two-tone ring, for 45 seconds at most ---------------

let audio = null;
let soundTimer = 0;
let soundStarted = 0;

function startSound() {
  if (soundTimer) return;
  soundStarted = Date.now();
  const beep = () => {
    if (Date.now() - soundStarted > ringFor) {
      stopSound();
      for (const r of rings.values()) r.card.dataset.state = "quiet";
      return;
    }
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume().catch(() => {});
      const t = audio.currentTime;
      const gain = audio.createGain();
      gain.connect(audio.destination);
      gain.gain.setValueAtTime(0, t);
      for (const [start, f] of [[0, 880], [0.25, 660], [1.1, 880], [1.35, 660]]) {
        const o = audio.createOscillator();
        o.type = "sine";
        o.frequency.value = f;
        o.connect(gain);
        o.start(t + start);
        o.stop(t + start + 0.22);
        gain.gain.setValueAtTime(0.08, t + start);
        gain.gain.setValueAtTime(0, t + start + 0.22);
      }
    } catch {
      // No audio (policy, device): the panel still shows.
    }
  };
  beep();
  soundTimer = setInterval(beep, 3000);
}

function stopSound() {
  clearInterval(soundTimer);
  soundTimer = 0;
}

// ---- the start page's waiting calls ------------------------------------

const statusText = {
  ringing: ["Ringing", "badge-ok"],
  declined: ["Declined · waiting", "badge-neutral"],
  answered: ["In progress", "badge-regular"],
};

function waitingRow(id, state, ev) {
  const table = document.querySelector("#waiting-calls");
  if (!table) return;
  const tbody = table.querySelector("tbody");
  let row = tbody.querySelector(`tr[data-call="${CSS.escape(id)}"]`);
  if (state === "ended") {
    row?.remove();
  } else if (!row && state === "ringing") {
    row = el("tr");
    row.dataset.call = id;
    const who = el("td");
    const cell = el("span", "cell-user");
    const text = el("span");
    text.append(el("strong", "", ev.caller_name || "A guest"), el("small", "", ev.subject || ""));
    cell.append(el("span", "avatar", initials(ev.caller_name)), text);
    who.append(cell);
    const status = el("td");
    status.append(el("span", "badge"));
    const since = el("td", "nowrap muted", ev.started_at ? new Date(ev.started_at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "");
    const act = el("td", "actions");
    const join = el("a", "btn btn-sm btn-primary");
    join.href = `/calls/${encodeURIComponent(id)}`;
    join.innerHTML = icons.video;
    join.append(el("span", "", "Join"));
    act.append(join);
    row.append(who, status, since, act);
    tbody.prepend(row);
  }
  if (row && statusText[state]) {
    const badge = row.querySelector(".badge");
    badge.className = `badge ${statusText[state][1]}`;
    badge.textContent = statusText[state][0];
  }
  const none = table.querySelector("[data-none]");
  if (none) none.hidden = tbody.querySelector("tr[data-call]") !== null;
}

function initials(name) {
  const words = (name || "?").trim().split(/\s+/).slice(0, 2);
  return words.map((w) => w[0] || "").join("").toUpperCase() || "?";
}
