// The live team dashboard. The team's board comes from
// GET /api/v1/supervision/teams/:id; from then on the page follows the
// events socket that ring.js keeps open (window "siteline:event"):
// "supervision" events carry a member's new status or the team's queue.
// The board is read again only when something it counts changed (a call
// began or ended: ongoing sessions, calls today) or after the socket
// reconnected; the page never polls.

const root = document.getElementById("sv");
const labels = { available: "Available", busy: "Busy", idle: "Idle", auto_assign_off: "Auto-assign off", offline: "Offline" };
const order = ["available", "busy", "idle", "auto_assign_off", "offline"];
const colours = { available: "#1f9d55", busy: "#d64545", idle: "#d69e2e", auto_assign_off: "#6b7bd6", offline: "#8a99a8" };
// The sit-in page mode of the call page (the session's supervisor joins
// hidden from the guest side), on the node that holds the call: this one,
// or the plant's whose address the board gives (base), where the
// supervisor signs in with the same account.
const sitInURL = (session, member, base) =>
  `${base || ""}/calls/${encodeURIComponent(session)}?sitin=${encodeURIComponent(member)}`;
const sitInLink = (cls, text, session, member, base, site) => {
  const a = el("a", cls, text);
  a.href = sitInURL(session, member, base);
  if (base) a.title = `Opens the call on ${site || "its site"}'s node`;
  return a;
};

let team = root?.dataset.team || "";
let board = null;
let members = new Map(); // id -> member
let filter = "";
let chart = null;
let reload = 0;
let loading = 0;

if (root) start();

function start() {
  // The details float over the page, placed by page coordinates.
  document.body.append(document.getElementById("sv-pop"));
  document.getElementById("sv-team").addEventListener("change", (e) => {
    team = e.target.value;
    const u = new URL(location.href);
    u.searchParams.set("team", team);
    history.replaceState(null, "", u);
    load();
  });
  for (const b of document.querySelectorAll(".sv-chip")) {
    b.addEventListener("click", () => {
      filter = b.dataset.filter;
      for (const x of document.querySelectorAll(".sv-chip")) x.classList.toggle("active", x === b);
      renderMembers();
    });
  }
  window.addEventListener("siteline:event", (e) => onEvent(e.detail));
  document.addEventListener("click", (e) => {
    if (!e.target.closest(".sv-member") && !e.target.closest("#sv-pop")) hidePop();
  });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hidePop(); });
  window.addEventListener("resize", hidePop);
  setInterval(tick, 1000); // the durations shown grow by themselves
  live();
  load();
}

async function load() {
  const want = team;
  const n = ++loading;
  try {
    const r = await fetch(`/api/v1/supervision/teams/${encodeURIComponent(want)}`, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
    const b = await r.json();
    if (n !== loading || want !== team) return;
    board = b;
    board.skew = Date.now() - new Date(b.now).getTime();
    // The last point of the series is now; the one before, the last sample.
    const at = b.series.at;
    board.sampledAt = at.length > 1 ? at[at.length - 2] : at[0];
    members = new Map(b.members.map((m) => [m.id, m]));
    renderAll();
    root.dataset.state = "ready";
  } catch (err) {
    root.dataset.state = "error";
    document.getElementById("sv-members").replaceChildren(el("p", "form-error", `Could not load the team: ${err.message}`));
  }
}

function scheduleReload() {
  clearTimeout(reload);
  reload = setTimeout(load, 400);
}

function onEvent(ev) {
  if (ev.type === "ready") {
    live();
    if (board) scheduleReload(); // changes may have passed while the socket was down
    return;
  }
  if (ev.type !== "supervision" || !board || !ev.supervision.teams.includes(team)) return;
  const u = ev.supervision;
  if (u.kind === "queue") {
    board.queue = u.queue || [];
    renderQueue();
    return;
  }
  const m = members.get(u.member.id);
  if (!m) {
    scheduleReload();
    return;
  }
  const was = m.status;
  const wasCall = m.call_id || "";
  Object.assign(m, { status: u.member.status, since: u.member.since, call_id: u.member.call_id || "", site: u.member.site || "",
    auto_assign: u.member.auto_assign, last_active: u.member.last_active });
  renderMember(m);
  renderCounts();
  pushChartPoint();
  if (was === "busy" || m.status === "busy" || wasCall !== m.call_id) scheduleReload();
}

function live() {
  const ok = document.body.dataset.events === "ready";
  const l = document.getElementById("sv-live");
  l.classList.toggle("on", ok);
  l.querySelector(".sv-live-text").textContent = ok ? "Live" : "Reconnecting";
}

// ---- rendering

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function initials(name) {
  return (name || "?").split(/[\s@.]+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

function now() { return Date.now() - (board?.skew || 0); }

function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.floor((now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

function duration(sec) {
  if (!sec) return "—";
  const s = Math.round(sec);
  const m = Math.floor(s / 60);
  return m ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "—";
}

function renderAll() {
  document.getElementById("sv-members-sub").textContent = `${board.members.length} ${board.members.length === 1 ? "person" : "people"} · idle after ${Math.round(board.idle_after / 60)} min`;
  renderCounts();
  renderMembers();
  renderSessions();
  renderQueue();
  renderChart();
}

function counts() {
  const c = Object.fromEntries(order.map((s) => [s, 0]));
  for (const m of members.values()) c[m.status]++;
  return c;
}

function renderCounts() {
  const c = counts();
  for (const li of document.querySelectorAll("#sv-counts [data-count]")) li.querySelector("b").textContent = c[li.dataset.count];
}

function renderMembers() {
  const box = document.getElementById("sv-members");
  const list = [...members.values()].sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status) || a.name.localeCompare(b.name));
  box.replaceChildren(...list.map(card));
  document.getElementById("sv-members-empty").hidden = list.length > 0;
}

function card(m) {
  const c = el("article", "sv-member");
  c.dataset.member = m.id;
  c.tabIndex = 0;
  c.setAttribute("role", "button");
  c.addEventListener("mouseenter", () => showPop(m.id, c));
  c.addEventListener("mouseleave", () => hidePopSoon());
  c.addEventListener("focus", () => showPop(m.id, c));
  c.addEventListener("click", (e) => { if (!e.target.closest("a")) showPop(m.id, c, true); });
  fillCard(c, m);
  return c;
}

function fillCard(c, m) {
  c.dataset.status = m.status;
  c.hidden = filter !== "" && m.status !== filter;
  const av = el("span", "sv-avatar", initials(m.name));
  const who = el("span", "sv-who");
  who.append(el("strong", "sv-name", m.name), el("span", "sv-role", m.role === "member" ? "" : m.role || ""));
  const st = el("span", "sv-status");
  st.append(el("span", "sv-dot"), el("span", "sv-status-label", labels[m.status] || m.status));
  const since = el("span", "sv-since");
  since.dataset.since = m.since || "";
  since.textContent = m.since ? ago(m.since) : "";
  st.append(since);
  const meta = el("span", "sv-meta");
  if (m.status === "busy") {
    meta.textContent = m.site ? `In a call · ${m.site}` : "In a call";
  } else {
    meta.textContent = `${m.calls_today} ${m.calls_today === 1 ? "call" : "calls"} today`;
  }
  const row = el("div", "sv-card-main");
  row.append(av, who);
  c.replaceChildren(row, st, meta);
  if (m.status === "busy" && m.call_id) {
    const a = sitInLink("btn btn-sm sv-sitin", "Sit in", m.call_id, m.id, m.call_url, m.site);
    a.dataset.sitin = m.id;
    c.append(a);
  }
  if (root.dataset.canMonitor === "true" && m.status !== "offline") {
    const b = el("button", "btn btn-sm sv-monitor", "See screen");
    b.type = "button";
    b.dataset.monitor = m.id;
    b.title = `Ask ${m.name} to share their screen with you`;
    b.addEventListener("click", () => monitor(m, b));
    c.append(b);
  }
}

// monitor asks a member to share their screen: their open pages ring, and
// this page opens the call that shows it, where the lead watches unseen
// by anyone but the member, who sees that they are watched.
async function monitor(m, button) {
  button.disabled = true;
  const csrf = document.querySelector('form[action="/logout"] input[name="_csrf"]')?.value || "";
  try {
    const res = await fetch(`/api/v1/users/${encodeURIComponent(m.id)}/monitor`, {
      method: "POST", headers: { Accept: "application/json", "X-CSRF-Token": csrf },
    });
    const out = await res.json().catch(() => ({}));
    if (res.status === 201 && out.url) {
      location.assign(out.url);
      return;
    }
    notice(out.reason || out.error || `Asking ${m.name} failed (${res.status}).`);
  } catch (err) {
    notice(`Asking ${m.name} failed: ${err.message}`);
  }
  button.disabled = false;
}

function notice(text) {
  const n = document.getElementById("sv-notice");
  if (!n) return;
  n.textContent = text;
  n.hidden = false;
}

function renderMember(m) {
  const c = document.querySelector(`#sv-members [data-member="${CSS.escape(m.id)}"]`);
  if (!c) return renderMembers();
  fillCard(c, m);
  if (popFor === m.id) showPop(m.id, c);
}

let popFor = "";
let popTimer = 0;

function showPop(id, anchor, pinned) {
  clearTimeout(popTimer);
  const m = members.get(id);
  const pop = document.getElementById("sv-pop");
  if (!m) return;
  popFor = id;
  const dl = el("dl", "sv-details");
  const row = (k, v) => { dl.append(el("dt", "", k), el("dd", "", v)); };
  row("Status", labels[m.status] || m.status);
  row("Since", m.since ? `${clock(m.since)} (${ago(m.since)})` : "—");
  row("Current session", m.status === "busy" ? (sessionName(m.call_id) || m.call_id || "—") : "—");
  if (m.site) row("Site", m.site);
  row("Calls today", String(m.calls_today));
  row("Average handling", duration(m.avg_handling));
  row("Auto-assign", m.auto_assign ? "On" : "Off");
  if (m.last_active) row("Last active", clock(m.last_active));
  const head = el("div", "sv-pop-head");
  head.append(el("span", "sv-avatar", initials(m.name)), el("strong", "", m.name));
  pop.replaceChildren(head, el("div", "sv-pop-mail", m.email || ""), dl);
  if (m.status === "busy" && m.call_id) {
    pop.append(sitInLink("btn btn-primary btn-sm", "Sit in", m.call_id, m.id, m.call_url, m.site));
  }
  pop.dataset.status = m.status;
  pop.hidden = false;
  const r = anchor.getBoundingClientRect();
  const w = Math.min(300, window.innerWidth - 16);
  pop.style.width = `${w}px`;
  pop.style.left = `${Math.max(8, Math.min(window.innerWidth - w - 8, r.left + window.scrollX))}px`;
  pop.style.top = `${r.bottom + window.scrollY + 6}px`;
  pop.onmouseenter = () => clearTimeout(popTimer);
  pop.onmouseleave = () => hidePopSoon();
  if (pinned) pop.dataset.pinned = "1";
}

function hidePopSoon() {
  const pop = document.getElementById("sv-pop");
  if (pop.dataset.pinned) return;
  popTimer = setTimeout(hidePop, 200);
}

function hidePop() {
  const pop = document.getElementById("sv-pop");
  pop.hidden = true;
  delete pop.dataset.pinned;
  popFor = "";
}

function sessionName(id) {
  const s = board.sessions.find((x) => x.id === id);
  return s ? s.name || "Untitled session" : "";
}

function renderSessions() {
  const box = document.getElementById("sv-sessions");
  document.getElementById("sv-sessions-sub").textContent = board.sessions.length ? `${board.sessions.length} live` : "";
  box.replaceChildren(...board.sessions.map((s) => {
    const li = el("div", "sv-row");
    li.dataset.session = s.id;
    const main = el("div", "sv-row-main");
    const title = el("strong", "", s.name || (s.remote ? "Session at another site" : "Untitled session"));
    const meta = el("span", "sv-row-meta");
    meta.append(el("span", "", s.site || "This site"));
    const d = el("span", "sv-since");
    d.dataset.since = s.started_at;
    d.textContent = ago(s.started_at);
    meta.append(el("span", "", " · "), d);
    const people = el("div", "sv-people");
    const named = s.participants.length ? s.participants : s.members.map((id) => ({ user_id: id, name: members.get(id)?.name || id, kind: "regular" }));
    for (const p of named) {
      const chip = el("span", `sv-person${p.kind && p.kind !== "regular" ? " guest" : ""}${p.hidden ? " hidden-p" : ""}`, p.name || "Guest");
      if (p.hidden) chip.title = "Sitting in, hidden from the guest side";
      people.append(chip);
    }
    main.append(title, meta, people);
    const actions = el("div", "sv-row-actions");
    for (const id of s.members) {
      const text = s.members.length > 1 ? `Sit in · ${members.get(id)?.name || id}` : "Sit in";
      actions.append(sitInLink("btn btn-sm", text, s.id, id, s.url || members.get(id)?.call_url, s.site));
    }
    li.append(main, actions);
    return li;
  }));
  document.getElementById("sv-sessions-empty").hidden = board.sessions.length > 0;
}

function renderQueue() {
  const q = board.queue || [];
  document.getElementById("sv-queue-sub").textContent = q.length ? `${q.length} waiting` : "";
  document.getElementById("sv-queue").replaceChildren(...q.map((r) => {
    const li = el("div", "sv-row");
    li.dataset.request = r.id;
    const main = el("div", "sv-row-main");
    main.append(el("strong", "", r.subject || "Service request"));
    const meta = el("span", "sv-row-meta");
    meta.append(el("span", "", r.caller || "A guest"), el("span", "", " · waiting "));
    const d = el("span", "sv-since");
    d.dataset.since = r.since;
    d.textContent = ago(r.since);
    meta.append(d);
    if (r.offered_to) meta.append(el("span", "", ` · offered to ${members.get(r.offered_to)?.name || r.offered_to}`));
    main.append(meta);
    li.append(main);
    if (r.session_id) {
      const a = el("a", "btn btn-sm", "Join");
      a.href = `/calls/${encodeURIComponent(r.session_id)}`;
      li.append(el("div", "sv-row-actions")).append(a);
    }
    return li;
  }));
  document.getElementById("sv-queue-empty").hidden = q.length > 0;
}

let ticks = 0;
function tick() {
  // The chart moves on each minute with the counts the page holds.
  if (++ticks % 60 === 0) pushChartPoint();
  for (const e of document.querySelectorAll("#sv [data-since]")) {
    if (e.dataset.since) e.textContent = ago(e.dataset.since);
  }
}

// ---- chart (uPlot, vendored)

// chartData is the series for uPlot; the axis spans at least the last
// hour, however few samples there are yet.
function chartData() {
  const s = board.series;
  const first = s.at[0];
  const last = s.at[s.at.length - 1];
  if (last - first >= 3600) return [s.at, ...order.map((k) => s.counts[k])];
  return [[last - 3600, ...s.at], ...order.map((k) => [null, ...s.counts[k]])];
}

function renderChart() {
  const box = document.getElementById("sv-chart");
  if (!window.uPlot) {
    window.addEventListener("load", renderChart, { once: true });
    return;
  }
  if (chart) chart.destroy();
  const dark = matchMedia("(prefers-color-scheme: dark)").matches;
  const grid = { stroke: dark ? "#233241" : "#e6ebf0", width: 1 };
  const axis = { stroke: dark ? "#8ea0b2" : "#667789", grid, ticks: grid, font: "12px system-ui" };
  chart = new uPlot({
    width: Math.max(240, box.clientWidth),
    height: window.innerWidth < 500 ? 180 : 240,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    // At least the last hour, however few samples there are yet.
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(2, max + 1)] } },
    axes: [axis, { ...axis, size: 36, incrs: [1, 2, 5, 10, 20, 50, 100] }],
    series: [{}, ...order.map((k) => ({ label: labels[k], stroke: colours[k], width: 2, fill: `${colours[k]}1f` }))],
  }, chartData(), box);
  if (!box.dataset.observed) {
    box.dataset.observed = "1";
    new ResizeObserver(() => chart && chart.setSize({ width: Math.max(240, box.clientWidth), height: window.innerWidth < 500 ? 180 : 240 })).observe(box);
  }
}

// pushChartPoint moves the series' last point (now) to the counts now.
function pushChartPoint() {
  if (!board || !chart) return;
  const s = board.series;
  const last = s.at.length - 1;
  if (Math.floor(now() / 1000) - board.sampledAt >= 60) {
    // A minute since the last sample: keep this point, start a new one.
    board.sampledAt = s.at[last];
    s.at.push(s.at[last]);
    for (const k of order) s.counts[k].push(s.counts[k][last]);
  }
  s.at[s.at.length - 1] = Math.floor(now() / 1000);
  for (const k of order) s.counts[k][s.counts[k].length - 1] = countRole(k);
  chart.setData(chartData());
}

// countRole counts the members (role member) with a status, as the series
// does.
function countRole(status) {
  let n = 0;
  for (const m of members.values()) if (m.role === "member" && m.status === status) n++;
  return n;
}
