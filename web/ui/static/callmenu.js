// The call bar's "More" menu. On a phone the bar keeps microphone, camera,
// leave and end within reach of a thumb; the other tools (chat, snapshot,
// pointer, files, recording, camera switch) open above it from "More".
// On a wide screen the CSS shows them in the bar and hides "More".

const body = document.body;
const more = document.getElementById("btn-more");
const menu = document.getElementById("more-menu");

function setOpen(open) {
  body.classList.toggle("more-open", open);
  more.setAttribute("aria-expanded", String(open));
}

if (more && menu) {
  more.addEventListener("click", (ev) => {
    ev.stopPropagation();
    setOpen(!body.classList.contains("more-open"));
  });
  // A tool chosen from the menu closes it.
  menu.addEventListener("click", (ev) => {
    if (ev.target.closest("button")) setOpen(false);
  });
  document.addEventListener("click", (ev) => {
    if (body.classList.contains("more-open") && !ev.target.closest("#more-menu")) setOpen(false);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && body.classList.contains("more-open")) {
      setOpen(false);
      more.focus();
    }
  });
  // Unread chat messages show on "More" too while the chat button is in
  // the closed menu.
  const chatBadge = document.getElementById("chat-badge");
  const moreBadge = document.getElementById("more-badge");
  if (chatBadge && moreBadge) {
    new MutationObserver(() => {
      moreBadge.hidden = chatBadge.hidden;
      moreBadge.textContent = chatBadge.textContent;
    }).observe(chatBadge, { attributes: true, childList: true, characterData: true, subtree: true });
  }
}
