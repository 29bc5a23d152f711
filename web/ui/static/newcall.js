// Name a call before it starts. Forms marked data-new-call (New call on the
// start page, Call on a contact) open the dialog of
// templates/_newcall.html instead of starting the call at once; the dialog
// posts to /calls itself, with the name and goal typed, or with none when
// the caller skips. A contact's form carries the contact, whose name the
// call takes when none is typed.

const dialog = document.querySelector("#new-call-dialog");
if (dialog) wire(dialog);

function wire(dialog) {
  const form = dialog.querySelector("form");
  const name = dialog.querySelector("#nc-name");
  const contact = form.elements.contact;

  for (const start of document.querySelectorAll("form[data-new-call]")) {
    start.addEventListener("submit", (e) => {
      e.preventDefault();
      open(start);
    });
  }
  for (const x of dialog.querySelectorAll("[data-nc-close]")) {
    x.addEventListener("click", () => dialog.close());
  }

  function open(start) {
    form.reset();
    const id = start.elements.contact ? start.elements.contact.value : "";
    contact.value = id;
    const who = start.dataset.contactName || "";
    dialog.querySelector("#nc-eyebrow").textContent = who ? "Call " + who : "New call";
    name.placeholder = who ? "Call with " + who : "Press 7 stops with error E42";
    dialog.showModal();
    name.focus();
  }
}
