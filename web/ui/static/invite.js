// Invite a guest. The dialog is templates/_invite.html; buttons with
// data-invite open it:
//   data-invite="call"     invite to the call data-call (a conference
//                          invitation: the link works while the call goes on)
//   data-invite="request"  a new service request (a 24-hour link that calls
//                          you when it is opened)
// data-name, data-email and data-phone prefill the recipient. Once the
// link exists the dialog shows it, its QR code (drawn by the node) and
// how its delivery went.

const dialog = document.querySelector("#invite-dialog");
if (dialog) wire(dialog);

const texts = {
  call: {
    eyebrow: "This call",
    title: "Invite a guest",
    lead: "The guest joins this call from the link, without an account, after accepting the terms of use.",
    name: "Guest's name",
    submit: "Invite",
    validity: "The link lets one person in, while this call goes on.",
  },
  request: {
    eyebrow: "Service request",
    title: "New service request",
    lead: "Send a link to a customer or technician. When they open it, a call starts and rings you.",
    name: "Recipient's name",
    submit: "Create link",
    validity: "The link lets one person in and works for 24 hours.",
  },
};

const channels = {
  email: { label: "E-mail address", type: "email", placeholder: "name@company.com", sent: "E-mail sent to " },
  sms: { label: "Mobile phone number", type: "tel", placeholder: "+33 6 12 34 56 78", sent: "SMS sent to " },
};

function wire(dialog) {
  const $ = (sel) => dialog.querySelector(sel);
  const form = $("#iv-form");
  const result = $("#iv-result");
  const to = $("#iv-to");
  const submit = $("#iv-submit");
  const error = $("#iv-error");
  let mode = "request";
  let callID = "";

  for (const button of document.querySelectorAll("[data-invite]")) {
    button.hidden = false;
    button.addEventListener("click", () => open(button.dataset));
  }

  function open(d) {
    mode = d.invite === "call" ? "call" : "request";
    callID = d.call || "";
    const t = texts[mode];
    form.reset();
    showError("");
    dialog.dataset.mode = mode;
    $("#iv-eyebrow").textContent = t.eyebrow;
    $("#iv-title").textContent = t.title;
    $("#iv-lead").textContent = t.lead;
    $("#iv-name-label").textContent = t.name;
    submit.textContent = t.submit;
    for (const el of dialog.querySelectorAll("[data-iv-only]")) el.hidden = el.dataset.ivOnly !== mode;
    $("#iv-name").value = d.name || "";
    // SMS is offered only when the node has an SMS provider.
    const sms = !!form.querySelector('input[name="channel"][value="sms"]');
    const channel = d.email ? "email" : d.phone && sms ? "sms" : d.phone ? "link" : "email";
    form.elements.channel.value = channel;
    to.value = channel === "email" ? d.email || "" : d.phone || "";
    dialog.dataset.prefill = JSON.stringify({ email: d.email || "", phone: d.phone || "" });
    setChannel(channel, false);
    form.hidden = false;
    result.hidden = true;
    dialog.showModal();
    (mode === "request" ? $("#iv-subject") : $("#iv-name")).focus();
    if (mode === "request") loadTeams();
  }

  // The team picker: a request for a team waits in its queue and is
  // offered to its members in turn instead of ringing its creator.
  let teamsLoaded = false;
  async function loadTeams() {
    const field = $("#iv-team-field");
    if (!field || teamsLoaded) return;
    try {
      const resp = await fetch("/api/v1/queue-teams", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!resp.ok) return;
      const teams = await resp.json();
      const select = $("#iv-team");
      for (const t of teams) {
        const o = document.createElement("option");
        o.value = t.id;
        o.textContent = `Team ${t.name} (its queue)`;
        select.append(o);
      }
      teamsLoaded = true;
      field.hidden = teams.length === 0;
    } catch {
      // No picker: the request rings its creator.
    }
  }

  function setChannel(channel, swap) {
    const c = channels[channel];
    $("#iv-to-field").hidden = !c;
    if (!c) return;
    $("#iv-to-label").textContent = c.label;
    to.type = c.type;
    to.placeholder = c.placeholder;
    if (swap) {
      const prefill = JSON.parse(dialog.dataset.prefill || "{}");
      to.value = channel === "email" ? prefill.email || "" : prefill.phone || "";
    }
  }

  form.addEventListener("change", (ev) => {
    if (ev.target.name === "channel") {
      showError("");
      setChannel(ev.target.value, true);
    }
  });

  function showError(msg, field) {
    error.textContent = msg;
    error.hidden = !msg;
    for (const el of dialog.querySelectorAll(".iv-invalid")) el.classList.remove("iv-invalid");
    const input = field && form.elements[field];
    if (input && input.classList) {
      input.classList.add("iv-invalid");
      input.focus();
    }
  }

  // fieldError turns "to \"x\" is not an e-mail address" into the field
  // and a sentence that names it the way the form does.
  function fieldError(message) {
    const m = /^(to|name|subject|goal|channel) (.*)$/s.exec(message || "");
    if (!m) return { text: message || "The invitation could not be created." };
    const labels = {
      to: $("#iv-to-label").textContent,
      name: $("#iv-name-label").textContent,
      subject: "Subject",
      goal: "Details",
      channel: "Channel",
    };
    return { field: m[1], text: `${labels[m[1]]}: ${m[2]}` };
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const channel = form.elements.channel.value;
    const body = { channel, to: channel === "link" ? "" : to.value.trim(), name: $("#iv-name").value.trim() };
    if (channel !== "link" && !body.to) {
      showError(`${channels[channel].label} is required to send the link, or choose "Link only".`, "to");
      return;
    }
    let url = "/api/v1/service-requests";
    if (mode === "call") {
      url = `/api/v1/calls/${encodeURIComponent(callID)}/invitations`;
    } else {
      body.subject = $("#iv-subject").value.trim();
      body.goal = $("#iv-goal").value.trim();
      const team = $("#iv-team")?.value;
      if (team) body.team_id = team;
    }
    submit.setAttribute("aria-busy", "true");
    submit.disabled = true;
    try {
      const resp = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": dialog.dataset.csrf || "" },
        body: JSON.stringify(body),
      });
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        if (resp.status === 403 && data.permission) {
          showError(`You may not invite guests: your role lacks the permission ${data.permission}.`);
        } else {
          const fe = fieldError(data.error);
          showError(fe.text, fe.field);
        }
        return;
      }
      showResult(data, body);
      document.dispatchEvent(new CustomEvent("siteline:invited", { detail: data }));
    } catch (err) {
      showError(`The node did not answer (${err.message}). Check the connection and try again.`);
    } finally {
      submit.removeAttribute("aria-busy");
      submit.disabled = false;
    }
  });

  function showResult(inv, body) {
    $("#iv-link").value = inv.link || "";
    const qr = $("#iv-qr");
    qr.hidden = !inv.qr_code;
    if (inv.qr_code) qr.src = inv.qr_code;
    const status = $("#iv-delivery");
    const d = (inv.deliveries || [])[0];
    status.hidden = false;
    if (!d) {
      status.dataset.state = "link";
      status.textContent = "Copy the link or let them scan the code: nothing was sent.";
    } else if (d.status === "sent" && channels[d.channel]) {
      status.dataset.state = "sent";
      status.textContent = channels[d.channel].sent + d.to + ".";
    } else if (d.status === "failed") {
      status.dataset.state = "failed";
      status.textContent = `Could not be sent to ${d.to}: ${d.last_error}. Copy the link instead.`;
    } else {
      status.dataset.state = "pending";
      status.textContent = `Not sent yet to ${d.to}: ${d.last_error || "queued"}. Siteline keeps trying.`;
    }
    let validity = texts[mode].validity;
    if (inv.expires_at) {
      const until = new Date(inv.expires_at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
      validity = `The link lets one person in until ${until}. Opening it calls you.`;
    }
    $("#iv-validity").textContent = validity;
    $("#iv-done-title").textContent = body.name ? `Share this link with ${body.name}` : "Share this link";
    form.hidden = true;
    result.hidden = false;
    $("#iv-copy").focus();
  }

  $("#iv-copy").addEventListener("click", async () => {
    const link = $("#iv-link");
    const label = $("#iv-copy span");
    try {
      await navigator.clipboard.writeText(link.value);
    } catch {
      link.select();
      document.execCommand?.("copy");
    }
    label.textContent = "Copied";
    setTimeout(() => { label.textContent = "Copy"; }, 1800);
  });

  $("#iv-again").addEventListener("click", () => {
    const keep = { invite: mode, call: callID };
    dialog.close();
    open(keep);
  });

  for (const b of dialog.querySelectorAll("[data-iv-close]")) b.addEventListener("click", () => dialog.close());
  // A click on the backdrop closes the dialog.
  dialog.addEventListener("click", (ev) => {
    if (ev.target === dialog) dialog.close();
  });
}
