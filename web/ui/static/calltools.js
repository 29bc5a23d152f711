// Siteline call tools: freeze frame with live annotations, a live pointer
// on someone's video, file sharing and recording. It works beside call.js,
// through window.sitelineCall (state, send, toast, chat lines) and the
// "siteline:message" events call.js dispatches for these message types.

const $ = (sel, root = document) => root.querySelector(sel);
const body = document.body;
const callID = body.dataset.call;
const csrf = body.dataset.csrf || "";
const can = {
  annotate: body.dataset.canAnnotate === "true",
  files: body.dataset.canFiles === "true",
  record: body.dataset.canRecord === "true",
};
const call = () => window.sitelineCall;

const COLORS = ["#ff3b30", "#ffcc00", "#34c759", "#0a84ff", "#ffffff", "#111111"];

// ---- uploads ----------------------------------------------------------------

async function upload(blob, filename, fields) {
  // The file goes last: the node reads the fields first and then streams
  // the file to disk as it arrives.
  const fd = new FormData();
  fd.append("participant", call().me);
  for (const [k, v] of Object.entries(fields || {})) fd.append(k, v);
  fd.append("file", blob, filename);
  const res = await fetch(`/api/v1/calls/${encodeURIComponent(callID)}/media`, {
    method: "POST",
    body: fd,
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
  });
  if (!res.ok) {
    const e = await res.json().catch(() => ({}));
    let msg = e.message || e.error || `HTTP ${res.status}`;
    if (res.status === 403 && e.permission) msg = `Not allowed: you lack the permission ${e.permission}.`;
    throw new Error(msg);
  }
  return res.json();
}

function stamp() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

// ---- geometry: where a video's frame is inside its element ------------------

// frameRect is the box the video frame fills in the element's coordinates,
// after object-fit (cover crops, contain letterboxes).
function frameRect(video) {
  const ew = video.clientWidth;
  const eh = video.clientHeight;
  const vw = video.videoWidth || ew;
  const vh = video.videoHeight || eh;
  const fit = getComputedStyle(video).objectFit;
  const scale = fit === "contain" ? Math.min(ew / vw, eh / vh) : Math.max(ew / vw, eh / vh);
  const w = vw * scale;
  const h = vh * scale;
  return { x: (ew - w) / 2, y: (eh - h) / 2, w, h };
}

function mirrored(tile) {
  return tile.classList.contains("self") && !tile.classList.contains("screen");
}

// toFrame maps a pointer event on a tile to frame coordinates (0..1).
function toFrame(ev, tile) {
  const video = $("video", tile);
  const r = video.getBoundingClientRect();
  const f = frameRect(video);
  let x = (ev.clientX - r.left - f.x) / f.w;
  const y = (ev.clientY - r.top - f.y) / f.h;
  if (mirrored(tile)) x = 1 - x;
  if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return null;
  return { x, y };
}

function tileOf(participant) {
  if (participant === call().me) return $("#tile-self");
  return document.querySelector(`#grid .tile[data-participant="${CSS.escape(participant)}"]`);
}

// ---- freeze frame -------------------------------------------------------------

function remoteTiles() {
  return [...document.querySelectorAll("#grid .tile:not(.self)")].filter((t) => {
    const v = $("video", t);
    return v && v.videoWidth > 0 && !t.classList.contains("cam-off");
  });
}

async function snapshot(tile) {
  tile = tile || remoteTiles()[0];
  if (!tile) {
    call().toast("There is no one's video to freeze yet.");
    return;
  }
  const video = $("video", tile);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((ok) => canvas.toBlob(ok, "image/png"));
  try {
    await upload(blob, `snapshot-${stamp()}.png`, { kind: "snapshot", of: tile.dataset.participant });
  } catch (err) {
    call().toast("Snapshot not saved: " + err.message);
  }
}

// ---- annotation view ----------------------------------------------------------

const board = {
  media: null, // signal Media being annotated
  img: null,
  strokes: [], // in order; clear strokes reset
  tool: "pen",
  color: COLORS[0],
  drawing: null, // stroke in progress
  seq: 0,
};
window.sitelineBoard = board; // for end-to-end tests

function openBoard(media) {
  const dlg = $("#board");
  board.media = media;
  board.strokes = [];
  board.drawing = null;
  const img = new Image();
  img.onload = () => {
    board.img = img;
    const canvas = $("#board-canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    redraw();
  };
  img.src = media.url;
  $("#board-title").textContent = media.by === call().me ? "Your snapshot" : `Snapshot by ${nameOf(media.by)}`;
  $("#board-tools").hidden = !can.annotate;
  if (!dlg.open) dlg.showModal();
}

function nameOf(participant) {
  if (participant === call().me) return "you";
  return call().peers.get(participant)?.name || "someone";
}

function redraw() {
  const canvas = $("#board-canvas");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (board.img) ctx.drawImage(board.img, 0, 0);
  let start = 0;
  board.strokes.forEach((s, i) => {
    if (s.clear) start = i + 1;
  });
  for (const s of board.strokes.slice(start)) paint(ctx, s, canvas.width, canvas.height);
  if (board.drawing) paint(ctx, board.drawing, canvas.width, canvas.height);
}

function paint(ctx, s, W, H) {
  const pts = s.points.map(([x, y]) => [x * W, y * H]);
  const lw = Math.max(1, s.width * W);
  ctx.save();
  ctx.strokeStyle = s.color;
  ctx.fillStyle = s.color;
  ctx.lineWidth = lw;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.shadowColor = "rgba(0,0,0,.45)";
  ctx.shadowBlur = lw;
  if (s.tool === "pen") {
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (pts.length === 1) ctx.lineTo(pts[0][0] + 0.1, pts[0][1]);
    ctx.stroke();
  } else if (s.tool === "arrow" && pts.length === 2) {
    const [[x0, y0], [x1, y1]] = pts;
    const a = Math.atan2(y1 - y0, x1 - x0);
    const head = Math.max(lw * 4, 12);
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - head * Math.cos(a - 0.45), y1 - head * Math.sin(a - 0.45));
    ctx.lineTo(x1 - head * Math.cos(a + 0.45), y1 - head * Math.sin(a + 0.45));
    ctx.closePath();
    ctx.fill();
  } else if (s.tool === "circle" && pts.length === 2) {
    const [[x0, y0], [x1, y1]] = pts;
    ctx.beginPath();
    ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2 || 1, Math.abs(y1 - y0) / 2 || 1, 0, 0, Math.PI * 2);
    ctx.stroke();
  } else if (s.tool === "text" && s.text) {
    ctx.font = `600 ${Math.max(14, s.width * W * 6)}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    ctx.shadowBlur = 4;
    ctx.fillText(s.text, pts[0][0], pts[0][1]);
  }
  ctx.restore();
}

function boardPoint(ev) {
  const canvas = $("#board-canvas");
  const r = canvas.getBoundingClientRect();
  const x = (ev.clientX - r.left) / r.width;
  const y = (ev.clientY - r.top) / r.height;
  return [Math.min(1, Math.max(0, x)), Math.min(1, Math.max(0, y))];
}

function newStroke(points) {
  board.seq++;
  return { id: `${call().me}-${Date.now().toString(36)}-${board.seq}`, tool: board.tool, color: board.color, width: 0.006, points };
}

function commit(stroke) {
  if (stroke.tool === "pen" && stroke.points.length > 2000) stroke.points = thin(stroke.points, 2000);
  board.strokes.push(stroke);
  redraw();
  call().send({ type: "annotate", media: { id: board.media.id }, stroke });
}

function thin(points, max) {
  const step = points.length / max;
  const out = [];
  for (let i = 0; i < max; i++) out.push(points[Math.floor(i * step)]);
  out[out.length - 1] = points[points.length - 1];
  return out;
}

function wireBoard() {
  const canvas = $("#board-canvas");
  canvas.addEventListener("pointerdown", (ev) => {
    if (!can.annotate || !board.media) return;
    const p = boardPoint(ev);
    if (board.tool === "text") {
      const text = window.prompt("Text to place on the snapshot");
      if (text && text.trim()) {
        const s = newStroke([p]);
        s.text = text.trim().slice(0, 500);
        s.width = 0.005;
        commit(s);
      }
      return;
    }
    canvas.setPointerCapture(ev.pointerId);
    board.drawing = newStroke(board.tool === "pen" ? [p] : [p, p]);
    redraw();
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!board.drawing) return;
    const p = boardPoint(ev);
    if (board.drawing.tool === "pen") board.drawing.points.push(p);
    else board.drawing.points[1] = p;
    redraw();
  });
  const end = () => {
    const s = board.drawing;
    board.drawing = null;
    if (s) commit(s);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  for (const b of document.querySelectorAll("#board-tools [data-tool]")) {
    b.addEventListener("click", () => {
      board.tool = b.dataset.tool;
      for (const o of document.querySelectorAll("#board-tools [data-tool]")) o.setAttribute("aria-pressed", String(o === b));
    });
  }
  const colors = $("#board-colors");
  for (const c of COLORS) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "swatch";
    b.style.background = c;
    b.title = c;
    b.dataset.color = c;
    b.setAttribute("aria-pressed", String(c === board.color));
    b.addEventListener("click", () => {
      board.color = c;
      for (const o of colors.children) o.setAttribute("aria-pressed", String(o === b));
    });
    colors.append(b);
  }
  $("#board-clear").addEventListener("click", () => {
    if (!board.media) return;
    board.seq++;
    commit({ id: `${call().me}-${Date.now().toString(36)}-${board.seq}`, clear: true, points: [] });
  });
  $("#board-save").addEventListener("click", async () => {
    const canvas = $("#board-canvas");
    const blob = await new Promise((ok) => canvas.toBlob(ok, "image/png"));
    try {
      await upload(blob, `annotated-${stamp()}.png`, {
        kind: "snapshot",
        of: board.media.of || "",
        annotations: JSON.stringify({ source: board.media.id, strokes: board.strokes }),
      });
      call().toast("Annotated snapshot saved to the session.");
    } catch (err) {
      call().toast("Not saved: " + err.message);
    }
  });
  $("#board-close").addEventListener("click", () => $("#board").close());
  $("#board").addEventListener("close", () => (board.media = null));
}

function onAnnotate(m) {
  if (!board.media || board.media.id !== m.media.id) return;
  const s = m.stroke;
  if (s.clear) s.points = [];
  board.strokes.push(s);
  redraw();
}

// ---- live pointer --------------------------------------------------------------

const pointer = { on: false, last: 0, sent: false };

function setPointing(on) {
  pointer.on = on;
  $("#btn-point")?.setAttribute("aria-pressed", String(on));
  body.classList.toggle("pointing", on);
  if (!on && pointer.sent) {
    call().send({ type: "pointer" });
    pointer.sent = false;
  }
}

function wirePointer() {
  const grid = $("#grid");
  grid.addEventListener("pointermove", (ev) => {
    if (!pointer.on) return;
    const tile = ev.target.closest(".tile");
    if (!tile || tile.classList.contains("self")) return;
    const now = performance.now();
    if (now - pointer.last < 50) return;
    pointer.last = now;
    const f = toFrame(ev, tile);
    if (!f) return;
    call().send({ type: "pointer", point: { participant: tile.dataset.participant, x: f.x, y: f.y } });
    pointer.sent = true;
  });
  grid.addEventListener("pointerleave", () => {
    if (pointer.on && pointer.sent) {
      call().send({ type: "pointer" });
      pointer.sent = false;
    }
  });
}

const shownPointers = new Map(); // participant (who points) -> {el, timer}

function onPointer(m) {
  let shown = shownPointers.get(m.participant);
  if (!m.point) {
    shown?.el.remove();
    shownPointers.delete(m.participant);
    return;
  }
  const tile = tileOf(m.point.participant);
  if (!tile) return;
  if (!shown || shown.el.parentElement !== tile) {
    shown?.el.remove();
    const el = document.createElement("div");
    el.className = "pointer";
    el.dataset.from = m.participant;
    const label = document.createElement("span");
    label.textContent = m.name || "Pointer";
    el.append(label);
    tile.append(el);
    shown = { el, timer: 0 };
    shownPointers.set(m.participant, shown);
  }
  const f = frameRect($("video", tile));
  const x = mirrored(tile) ? 1 - m.point.x : m.point.x;
  shown.el.style.left = `${f.x + x * f.w}px`;
  shown.el.style.top = `${f.y + m.point.y * f.h}px`;
  clearTimeout(shown.timer);
  shown.timer = setTimeout(() => onPointer({ participant: m.participant }), 4000);
}

// ---- files ----------------------------------------------------------------------

async function shareFiles(files) {
  for (const f of files) {
    try {
      await upload(f, f.name, { kind: "file" });
    } catch (err) {
      call().toast(`${f.name} not shared: ${err.message}`);
    }
  }
}

function size(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// mediaLine puts a snapshot or a file in the chat, with who added it.
function mediaLine(media) {
  const li = document.createElement("li");
  li.className = "media" + (media.by === call().me ? " mine" : "");
  li.dataset.media = media.id;
  const meta = document.createElement("div");
  meta.className = "meta";
  const who = document.createElement("b");
  who.textContent = media.by === call().me ? "You" : call().peers.get(media.by)?.name || "Someone";
  const when = document.createElement("time");
  when.textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(who, when);
  const card = document.createElement("div");
  card.className = "text media-card";
  if (media.kind === "snapshot") {
    const a = document.createElement("button");
    a.type = "button";
    a.className = "thumb";
    const img = document.createElement("img");
    img.src = media.url;
    img.alt = media.name;
    img.loading = "lazy";
    a.append(img);
    a.addEventListener("click", () => openBoard(media));
    card.append(a);
  } else {
    const a = document.createElement("a");
    a.href = media.url;
    a.download = media.name;
    a.className = "file";
    a.textContent = media.name;
    const s = document.createElement("small");
    s.textContent = size(media.size || 0);
    card.append(a, s);
  }
  li.append(meta, card);
  call().appendChat(li);
}

function onMedia(m) {
  const media = m.media;
  mediaLine(media);
  if (media.kind === "snapshot" && !media.name.startsWith("annotated-")) openBoard(media);
  else if (media.by !== call().me) call().toast(`${nameOf(media.by)} shared ${media.name}.`);
}

// onMediaDeleted takes a deleted snapshot or file off the page: its line
// in the chat, and the drawing board if it shows it.
function onMediaDeleted(m) {
  const id = m.media.id;
  for (const li of document.querySelectorAll("li.media[data-media]")) {
    if (li.dataset.media === id) li.remove();
  }
  if (board.media?.id === id && $("#board").open) $("#board").close();
  const what = m.media.kind === "snapshot" ? "a snapshot" : m.media.name || "a file";
  call().systemLine(`${m.name || "Someone"} deleted ${what}`);
}

// ---- recording ----------------------------------------------------------------

function onRecording(m) {
  body.classList.toggle("recording", !!m.recording);
  $("#rec-indicator").hidden = !m.recording;
  $("#btn-record")?.setAttribute("aria-pressed", String(!!m.recording));
  const who = m.participant === call().me ? "You" : m.name || "Someone";
  call().systemLine(`${who} ${m.recording ? "started" : "stopped"} recording`);
}

// ---- wiring -------------------------------------------------------------------------

window.addEventListener("siteline:message", (ev) => {
  const m = ev.detail;
  switch (m.type) {
    case "media":
      return onMedia(m);
    case "media-deleted":
      return onMediaDeleted(m);
    case "annotate":
      return onAnnotate(m);
    case "pointer":
      return onPointer(m);
    case "recording":
      return onRecording(m);
    case "joined":
      body.classList.toggle("recording", !!m.recording);
      $("#rec-indicator").hidden = !m.recording;
      $("#btn-record")?.setAttribute("aria-pressed", String(!!m.recording));
      return;
  }
});

window.addEventListener("siteline:left", () => {
  setPointing(false);
  if ($("#board").open) $("#board").close();
  body.classList.remove("recording");
  $("#rec-indicator").hidden = true;
});

function wire() {
  wireBoard();
  wirePointer();
  $("#btn-snapshot")?.addEventListener("click", () => snapshot());
  $("#btn-point")?.addEventListener("click", () => setPointing(!pointer.on));
  const input = $("#file-input");
  $("#btn-file")?.addEventListener("click", () => input.click());
  input?.addEventListener("change", () => {
    shareFiles([...input.files]);
    input.value = "";
  });
  $("#btn-record")?.addEventListener("click", () => {
    const on = !body.classList.contains("recording");
    call().send({ type: "record", recording: on });
  });
  // A double click on someone's video freezes it.
  $("#grid").addEventListener("dblclick", (ev) => {
    const tile = ev.target.closest(".tile");
    if (tile && !tile.classList.contains("self") && can.annotate) snapshot(tile);
  });
  // Files dropped on the call are shared.
  if (can.files) {
    $("#incall").addEventListener("dragover", (ev) => ev.preventDefault());
    $("#incall").addEventListener("drop", (ev) => {
      ev.preventDefault();
      if (ev.dataTransfer?.files?.length) shareFiles([...ev.dataTransfer.files]);
    });
  }
}

if (body.dataset.ended !== "true") wire();
