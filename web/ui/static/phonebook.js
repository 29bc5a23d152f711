// The phonebook's colleagues show their presence live. The node sends
// "presence" events on the events socket that ring.js keeps open (window
// "siteline:event"), which asks for them on this page (data-live-presence): first every user not offline (presence_all), then
// the users whose state changed. Each row of #internal-contacts carries
// data-user and data-presence; its badge is drawn again from the state.

const table = document.getElementById("internal-contacts");
const badges = {
  online: ["badge badge-ok", "Online"],
  in_call: ["badge badge-guest presence-dot", "In a call"],
  offline: ["badge badge-neutral presence-dot", "Offline"],
};

if (table) {
  window.addEventListener("siteline:event", (e) => onEvent(e.detail));
  // What came before this script listened (ring.js keeps it).
  if (window.sitelinePresence) onEvent({ type: "presence", presence: window.sitelinePresence, presence_all: true });
}

function onEvent(ev) {
  if (ev.type !== "presence") return;
  const states = ev.presence || {};
  for (const row of table.querySelectorAll("tr[data-user]")) {
    const id = row.dataset.user;
    if (id in states) show(row, states[id]);
    else if (ev.presence_all) show(row, "offline");
  }
}

function show(row, state) {
  if (!badges[state] || row.dataset.presence === state) return;
  row.dataset.presence = state;
  const cell = row.querySelector("[data-presence-cell]");
  if (!cell) return;
  const [cls, text] = badges[state];
  const badge = document.createElement("span");
  badge.className = cls;
  badge.textContent = text;
  cell.replaceChildren(badge);
}
