// Siteline backoffice: small enhancements over server-rendered pages.
// Every page works without this file; it only adds confirmations, live
// filtering and copy buttons.

// Confirm destructive actions: <form data-confirm="Delete X?"> or a button
// with data-confirm.
document.addEventListener("submit", (ev) => {
  const form = ev.target;
  const button = ev.submitter;
  const msg = (button && button.dataset.confirm) || form.dataset.confirm;
  if (msg && !window.confirm(msg)) {
    ev.preventDefault();
  }
});

// Live filter: <input data-filter="#table-id"> hides the rows of that
// table's body whose text does not contain every word typed.
function applyFilter(input) {
  const target = document.querySelector(input.dataset.filter);
  if (!target) return;
  const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  const rows = target.querySelectorAll("tbody tr[data-row]");
  for (const row of rows) {
    const text = row.textContent.toLowerCase();
    const ok = words.every((w) => text.includes(w));
    row.hidden = !ok;
    if (ok) shown++;
  }
  const counter = document.querySelector(input.dataset.count || "");
  if (counter) counter.textContent = `${shown} of ${rows.length}`;
  const none = target.querySelector("[data-none]");
  if (none) none.hidden = shown !== 0 || rows.length === 0;
}

for (const input of document.querySelectorAll("input[data-filter]")) {
  input.addEventListener("input", () => applyFilter(input));
  // The form still submits ?q= for the server-side filter without script;
  // with script, filter in place and keep the query in the address bar,
  // unless the list is paged by the server (data-server-search: the page
  // holds only part of it), whose search the form submits.
  const form = input.form;
  if (form && !("serverSearch" in input.dataset)) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const url = new URL(window.location.href);
      if (input.value) url.searchParams.set(input.name, input.value);
      else url.searchParams.delete(input.name);
      history.replaceState(null, "", url);
      applyFilter(input);
    });
  }
}

// Copy to clipboard: <button data-copy="#input-id">.
for (const button of document.querySelectorAll("[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const label = button.querySelector("span");
    const before = label ? label.textContent : "";
    try {
      await navigator.clipboard.writeText(source.value || source.textContent);
    } catch {
      source.select?.();
      document.execCommand?.("copy");
    }
    if (label) {
      label.textContent = "Copied";
      setTimeout(() => { label.textContent = before; }, 1800);
    }
  });
}

// Colour inputs update their group's swatch and chips while choosing.
for (const input of document.querySelectorAll("input[type=color][data-preview]")) {
  input.addEventListener("input", () => {
    const target = document.querySelector(input.dataset.preview);
    if (target) target.style.setProperty("--chip", input.value);
  });
}

// Open the panel whose form failed, and close the others on Escape.
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape") return;
  for (const d of document.querySelectorAll("details.chip-edit[open]")) d.open = false;
});

// Policy matrix: a click on a cell posts its small form in the background
// and swaps in the matrix the server renders back, so the page keeps its
// scroll position. Without script the form posts and the page reloads.
document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (!form.matches || !form.matches("form[data-cell]") || ev.defaultPrevented) return;
  ev.preventDefault();
  const button = form.querySelector("button");
  if (button) button.setAttribute("aria-busy", "true");
  const wrap = document.querySelector(".matrix");
  const scroll = wrap ? [wrap.scrollTop, wrap.scrollLeft] : [0, 0];
  try {
    const resp = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const next = doc.querySelector("#content");
    const here = document.querySelector("#content");
    if (!next || !here) throw new Error("unexpected answer");
    here.replaceWith(next);
    const flash = doc.querySelector(".flash");
    const old = document.querySelector(".flash");
    if (old) old.remove();
    if (flash) next.before(flash);
    const again = document.querySelector(".matrix");
    if (again) [again.scrollTop, again.scrollLeft] = scroll;
  } catch {
    form.submit();
  }
});

// A table frame that scrolls sideways (a wide table on a phone) can be
// reached with the keyboard, to scroll it with the arrow keys.
function focusableFrames() {
  for (const wrap of document.querySelectorAll(".table-wrap")) {
    if (wrap.scrollWidth > wrap.clientWidth + 1 || wrap.scrollHeight > wrap.clientHeight + 1) {
      wrap.tabIndex = 0;
      if (!wrap.hasAttribute("role")) {
        wrap.setAttribute("role", "region");
        const title = wrap.closest("section, .card")?.querySelector("h2, h3");
        wrap.setAttribute("aria-label", title ? title.textContent.trim() : "Table");
      }
    } else if (wrap.getAttribute("role") === "region") {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
      wrap.removeAttribute("aria-label");
    }
  }
}
focusableFrames();
window.addEventListener("resize", focusableFrames);
