// Siteline call page. It speaks the signaling protocol of siteline/media/signal
// (version 1) over GET /api/v1/calls/:id/signal: join, then two peer
// connections, "publish" (we offer) and "subscribe" (the SFU offers); chat
// goes over the signaling socket. No framework, no build step.

const $ = (sel) => document.querySelector(sel);
const body = document.body;
const callID = body.dataset.call;
const can = {
  end: body.dataset.canEnd === "true",
  chat: body.dataset.canChat === "true",
  share: body.dataset.canShare === "true",
  camera: body.dataset.canCamera === "true",
  mic: body.dataset.canMic === "true",
};
const isPhone = /Android|iPhone|iPad|iPod|Mobile/i.test(navigator.userAgent);

// state is the whole page's state; window.sitelineCall exposes it to
// end-to-end tests (getStats on the peer connections).
const state = {
  local: null, // MediaStream from the camera and microphone
  screen: null, // MediaStream from getDisplayMedia while sharing
  micOn: true,
  camOn: true,
  facing: "user",
  ws: null,
  pub: null,
  sub: null,
  me: "", // our participant id
  name: body.dataset.name || "",
  peers: new Map(), // participant id -> {name, tile, stream}
  tracks: new Map(), // track id -> signal Track
  queues: { publish: Promise.resolve(), subscribe: Promise.resolve() },
  nextID: 1,
  leaving: false,
  joinClickedAt: 0,
  firstFrameAt: 0,
  startedAt: 0,
  retries: 0,
  iceServers: [],
  iceRefresh: 0, // timer fetching fresh relay credentials
};
// A supervisor opens /call/<id>?sitin=<member id> to sit in hidden; a
// member asked to show their screen opens /call/<id>?share=screen, and
// joining shares it (the camera where screens cannot be shared).
state.sitIn = new URLSearchParams(location.search).get("sitin") || "";
state.shareScreen = new URLSearchParams(location.search).get("share") === "screen";
state.hidden = !!state.sitIn;
state.coaching = false;
window.sitelineCall = state;
// calltools.js (snapshots, pointer, files, recording) works through these.
Object.assign(state, { send: (m) => send(m), toast: (t) => toast(t), systemLine: (t) => systemLine(t), appendChat: (li) => appendChat(li) });

// ---- pre-join: preview and devices -----------------------------------

const preview = $("#preview");
const joinButton = $("#join");

function showError(msg) {
  const el = $("#prejoin-error");
  if (!el) return;
  el.textContent = msg;
  el.hidden = !msg;
}

async function openDevices() {
  const camID = $("#cam-select")?.value;
  const micID = $("#mic-select")?.value;
  const want = {
    audio: can.mic ? (micID ? { deviceId: { exact: micID } } : true) : false,
    video: can.camera
      ? camID
        ? { deviceId: { exact: camID }, width: { ideal: 1280 }, height: { ideal: 720 } }
        : { facingMode: state.facing, width: { ideal: 1280 }, height: { ideal: 720 } }
      : false,
  };
  if (!want.audio && !want.video) return new MediaStream();
  try {
    return await navigator.mediaDevices.getUserMedia(want);
  } catch (err) {
    // Fall back to whatever is there: audio only, then nothing.
    if (want.video && want.audio) {
      try {
        const s = await navigator.mediaDevices.getUserMedia({ audio: want.audio });
        showError("Camera unavailable (" + err.name + "); you will join with audio only.");
        return s;
      } catch (_) {}
    }
    showError("Camera and microphone unavailable (" + err.name + "). You can still join to watch and chat.");
    return new MediaStream();
  }
}

async function fillDevices() {
  let devices = [];
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch (_) {
    return;
  }
  for (const [kind, sel] of [["videoinput", "#cam-select"], ["audioinput", "#mic-select"]]) {
    const el = $(sel);
    if (!el) continue;
    const current = state.local?.getTracks().find((t) => (kind === "videoinput" ? t.kind === "video" : t.kind === "audio"));
    const currentID = current?.getSettings().deviceId || el.value;
    el.replaceChildren();
    const list = devices.filter((d) => d.kind === kind);
    if (list.length === 0) el.append(new Option(kind === "videoinput" ? "No camera" : "No microphone", ""));
    list.forEach((d, i) => {
      const o = new Option(d.label || (kind === "videoinput" ? "Camera " : "Microphone ") + (i + 1), d.deviceId);
      o.selected = d.deviceId === currentID;
      el.append(o);
    });
  }
  const cams = devices.filter((d) => d.kind === "videoinput").length;
  $("#btn-flip").hidden = !(can.camera && cams > 1);
}

async function startPreview() {
  if (state.local) state.local.getTracks().forEach((t) => t.stop());
  state.local = await openDevices();
  applyLocalState();
  preview.srcObject = state.local;
  $("#self-video").srcObject = state.local;
  await fillDevices();
  meter();
}

// applyLocalState mirrors micOn/camOn onto the tracks and the buttons.
function applyLocalState() {
  const audio = state.local?.getAudioTracks()[0];
  const video = state.local?.getVideoTracks()[0];
  if (audio) audio.enabled = state.micOn;
  if (video) video.enabled = state.camOn;
  const micPressed = String(state.micOn && !!audio);
  const camPressed = String(state.camOn && !!video);
  for (const id of ["#pre-mic", "#btn-mic"]) $(id).setAttribute("aria-pressed", micPressed);
  for (const id of ["#pre-cam", "#btn-cam"]) $(id).setAttribute("aria-pressed", camPressed);
  $("#btn-mic").title = state.micOn ? "Mute (M)" : "Unmute (M)";
  $("#btn-cam").title = state.camOn ? "Turn camera off (V)" : "Turn camera on (V)";
  $("#preview-off").hidden = state.camOn && !!video;
  $("#tile-self").classList.toggle("cam-off", !(state.camOn && video) && !state.screen);
  $("#tile-self .tile-muted").hidden = state.micOn && !!audio;
}

// meter shows the microphone level in the preview.
let meterCtx = null;
function meter() {
  const track = state.local?.getAudioTracks()[0];
  if (!track || !window.AudioContext) return;
  try {
    meterCtx?.close();
    meterCtx = new AudioContext();
    const an = meterCtx.createAnalyser();
    an.fftSize = 256;
    meterCtx.createMediaStreamSource(new MediaStream([track])).connect(an);
    const buf = new Uint8Array(an.fftSize);
    const bar = $("#meter-bar");
    const tick = () => {
      if (body.dataset.state !== "prejoin" || meterCtx.state === "closed") return;
      an.getByteTimeDomainData(buf);
      let peak = 0;
      for (const v of buf) peak = Math.max(peak, Math.abs(v - 128));
      bar.style.width = Math.min(100, (peak / 64) * 100 * (state.micOn ? 1 : 0)) + "%";
      requestAnimationFrame(tick);
    };
    tick();
  } catch (_) {}
}

// ---- signaling ---------------------------------------------------------

function send(msg) {
  msg.v = 1;
  if (!msg.id) msg.id = String(state.nextID++);
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
  return msg.id;
}

// request sends msg and resolves with the reply to it (an answer), or
// rejects with the error message refusing it.
const waiting = new Map(); // request id -> {resolve, reject}
function request(msg) {
  return new Promise((resolve, reject) => waiting.set(send(msg), { resolve, reject }));
}

function settle(m) {
  const w = m.id && waiting.get(m.id);
  if (!w) return;
  waiting.delete(m.id);
  if (m.type === "error") w.reject(m);
  else w.resolve(m);
}

// serial runs f after every earlier operation on the same connection, so
// that candidates never reach a connection before its description.
function serial(target, f) {
  const p = state.queues[target].then(f).catch((err) => console.warn("signaling", target, err));
  state.queues[target] = p;
  return p;
}

// fetchICEServers gets relay credentials for this call: the node hands
// them to its participants, so only once joined. They open new
// relay allocations only until expires_at, so they are fetched again a
// minute before then and handed to the open connections, for their next
// ICE restart; the allocations made already live as long as the call.
async function fetchICEServers() {
  const res = await fetch(`/api/v1/calls/${encodeURIComponent(callID)}/ice-servers`, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  if (!res.ok) {
    const e = await res.json().catch(() => ({}));
    throw new Error(e.message || e.error || `ICE servers: HTTP ${res.status}`);
  }
  const cfg = await res.json();
  state.iceServers = cfg.ice_servers || [];
  clearTimeout(state.iceRefresh);
  const expires = Date.parse(cfg.expires_at);
  if (!Number.isNaN(expires)) {
    const due = Math.max(5000, expires - Date.now() - 60000);
    state.iceRefresh = setTimeout(refreshICEServers, due);
  }
}

async function refreshICEServers() {
  if (state.leaving) return;
  try {
    await fetchICEServers();
  } catch (err) {
    console.warn("ice servers", err);
    state.iceRefresh = setTimeout(refreshICEServers, 15000);
    return;
  }
  for (const pc of [state.pub, state.sub]) {
    try {
      if (pc && pc.connectionState !== "closed") pc.setConfiguration({ ...pc.getConfiguration(), iceServers: state.iceServers });
    } catch (err) {
      console.warn("ice servers", err);
    }
  }
}

async function join() {
  state.leaving = false;
  body.dataset.state = "joining";
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/calls/${encodeURIComponent(callID)}/signal`);
  state.ws = ws;
  ws.onopen = () =>
    send(state.hidden ? { type: "join", room: callID, name: state.name, hidden: true, monitor: state.sitIn } : { type: "join", room: callID, name: state.name });
  ws.onmessage = (ev) => {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch (_) {
      return;
    }
    onMessage(m);
  };
  ws.onclose = () => {
    if (state.ws !== ws || state.leaving) return;
    // The socket dropped (network change, node restart): join again.
    reconnect();
  };
}

function reconnect() {
  if (state.leaving || body.dataset.state === "after") return;
  $("#reconnecting").hidden = false;
  closeConnections();
  state.retries++;
  const delay = Math.min(8000, 500 * 2 ** Math.min(state.retries, 4));
  setTimeout(() => {
    join().catch(() => reconnect());
  }, delay);
}

function onMessage(m) {
  if (m.type === "answer" || m.type === "error") settle(m);
  switch (m.type) {
    case "joined":
      return onJoined(m);
    case "answer":
      return serial("publish", () => state.pub.setRemoteDescription({ type: "answer", sdp: m.sdp }));
    case "offer":
      return onOffer(m);
    case "candidate":
      return onCandidate(m);
    case "participant-joined":
      addPeer(m.peer.id, m.peer.name);
      systemLine(`${m.peer.name || "Someone"} joined`);
      return;
    case "participant-left":
      return removePeer(m.participant, true);
    case "track-published":
      state.tracks.set(m.track.id, m.track);
      return;
    case "track-unpublished":
      state.tracks.delete(m.track.id);
      return;
    case "mute":
      return onMute(m);
    case "chat":
      return onChat(m);
    case "monitoring-on":
      return showMonitoring(m);
    case "monitoring-off":
      return showMonitoring(null);
    case "owner":
      return systemLine(`${m.name || "Someone"} now owns this session`);
    case "end":
      return finish("The call has ended", m.error ? sentence(m.error) : "");
    case "error":
      return onError(m);
    case "media":
    case "media-deleted":
    case "annotate":
    case "pointer":
    case "recording":
      window.dispatchEvent(new CustomEvent("siteline:message", { detail: m }));
      return;
  }
}

function onJoined(m) {
  state.me = m.participant;
  state.retries = 0;
  $("#reconnecting").hidden = true;
  for (const t of m.tracks || []) state.tracks.set(t.id, t);
  for (const p of m.participants || []) addPeer(p.id, p.name);
  window.dispatchEvent(new CustomEvent("siteline:message", { detail: m }));
  // The SFU's offer and candidates wait in the queues for the connections.
  const ready = fetchICEServers().then(() => {
    newSubscribe();
    newPublish();
    if (body.dataset.state !== "incall") enterCall();
  });
  ready.catch((err) => onError({ code: "internal", error: err.message }));
  for (const target of ["publish", "subscribe"]) state.queues[target] = state.queues[target].then(() => ready);
}

// loadChat shows the chat so far, once per page: a late joiner or a
// reload sees what was said.
let chatLoaded = false;
async function loadChat() {
  if (chatLoaded) return;
  chatLoaded = true;
  const res = await fetch(`/api/v1/calls/${encodeURIComponent(callID)}/chat`, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  }).catch(() => null);
  if (!res?.ok) return;
  const lines = await res.json().catch(() => []);
  for (const l of lines) onChat({ type: "chat", participant: l.participant, name: l.name, text: l.text, time: Date.parse(l.time), old: true });
}

function enterCall() {
  loadChat();
  body.dataset.state = "incall";
  $("#prejoin").hidden = true;
  $("#incall").hidden = false;
  $("#after").hidden = true;
  state.startedAt = Date.now();
  if (!isPhone && window.matchMedia("(min-width: 1100px)").matches) setChat(true);
  $("#btn-share") && ($("#btn-share").hidden = !canShareScreen());
  if (state.screen) { // shared on joining (?share=screen)
    const track = state.screen.getVideoTracks()[0];
    track.onended = () => stopShare();
    $("#self-video").srcObject = state.screen;
    $("#tile-self").classList.add("screen");
    $("#btn-share")?.setAttribute("aria-pressed", "true");
  }
  layout();
}

function canShareScreen() {
  return !!navigator.mediaDevices?.getDisplayMedia && !isPhone;
}

function rtcConfig() {
  return { iceServers: state.iceServers, bundlePolicy: "max-bundle" };
}

function newPublish() {
  const pc = new RTCPeerConnection(rtcConfig());
  state.pub = pc;
  pc.onicecandidate = (ev) => sendCandidate("publish", ev.candidate);
  pc.oniceconnectionstatechange = () => watchICE(pc, "publish");
  if (state.hidden) {
    $("#sup-bar").hidden = false;
    return; // a supervisor sitting in publishes only coaching audio (toggleCoach)
  }
  const stream = state.local || new MediaStream();
  const audio = stream.getAudioTracks()[0];
  const video = (state.screen || stream).getVideoTracks()[0];
  if (audio) pc.addTransceiver(audio, { direction: "sendonly", streams: [stream] });
  if (video) pc.addTransceiver(video, { direction: "sendonly", streams: [stream] });
  if (!audio && !video) return; // watch and chat only
  serial("publish", () => publishOffer(false));
  // Tell the others what is muted already.
  if (audio && !state.micOn) send({ type: "mute", kind: "audio", muted: true });
  if (video && !state.camOn) send({ type: "mute", kind: "video", muted: true });
}

async function publishOffer(iceRestart) {
  const pc = state.pub;
  const offer = await pc.createOffer({ iceRestart });
  await pc.setLocalDescription(offer);
  const sdp = state.screen ? markScreen(pc.localDescription.sdp) : pc.localDescription.sdp;
  return request({ type: "offer", target: "publish", sdp });
}

// markScreen marks the video section a screen share (RFC 4796
// a=content:slides): the node lets it through only with the screen-share
// permission.
function markScreen(sdp) {
  const parts = sdp.split("\r\nm=");
  for (let i = 1; i < parts.length; i++) {
    if (!parts[i].startsWith("video ")) continue;
    parts[i] += parts[i].endsWith("\r\n") ? "a=content:slides\r\n" : "\r\na=content:slides";
  }
  return parts.join("\r\nm=");
}

function newSubscribe() {
  const pc = new RTCPeerConnection(rtcConfig());
  state.sub = pc;
  pc.onicecandidate = (ev) => sendCandidate("subscribe", ev.candidate);
  pc.oniceconnectionstatechange = () => watchICE(pc, "subscribe");
  pc.ontrack = (ev) => onTrack(ev);
}

function onOffer(m) {
  serial("subscribe", async () => {
    const pc = state.sub;
    await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    send({ type: "answer", target: "subscribe", sdp: pc.localDescription.sdp });
  });
}

function onCandidate(m) {
  if (!m.candidate) return;
  serial(m.target, () => {
    const pc = m.target === "publish" ? state.pub : state.sub;
    if (!pc) return;
    return m.candidate.candidate ? pc.addIceCandidate(m.candidate) : pc.addIceCandidate();
  });
}

function sendCandidate(target, c) {
  const init = c ? c.toJSON() : { candidate: "" };
  send({ type: "candidate", target, candidate: init });
}

// watchICE restarts ICE when a connection fails, or stays disconnected,
// after a network change: an ICE-restart offer on publish, a request for
// one on subscribe. The call goes on with the same participant.
const restartTimers = {};
function watchICE(pc, target) {
  const st = pc.iceConnectionState;
  updateQualityFromState();
  if (st === "connected" || st === "completed") {
    clearTimeout(restartTimers[target]);
    return;
  }
  if (st !== "failed" && st !== "disconnected") return;
  clearTimeout(restartTimers[target]);
  restartTimers[target] = setTimeout(() => restartICE(target), st === "failed" ? 0 : 2500);
}

function restartICE(target) {
  const pc = target === "publish" ? state.pub : state.sub;
  if (!pc || pc.connectionState === "closed" || state.leaving) return;
  if (pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") return;
  if (target === "publish") serial("publish", () => publishOffer(true));
  else send({ type: "ice-restart", target: "subscribe" });
}
window.addEventListener("online", () => {
  if (body.dataset.state !== "incall") return;
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return reconnect();
  restartICE("publish");
  restartICE("subscribe");
});

// ---- participants and tiles ------------------------------------------

function initials(name) {
  const parts = (name || "?").trim().split(/\s+/);
  return ((parts[0]?.[0] || "?") + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

function addPeer(id, name) {
  if (!id || id === state.me) return state.peers.get(id);
  let p = state.peers.get(id);
  if (p) return p;
  const tile = document.createElement("figure");
  tile.className = "tile cam-off";
  tile.dataset.participant = id;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  const off = document.createElement("div");
  off.className = "tile-off";
  const av = document.createElement("span");
  av.className = "avatar-lg";
  av.textContent = initials(name);
  off.append(av);
  const cap = document.createElement("figcaption");
  const nm = document.createElement("span");
  nm.className = "tile-name";
  nm.textContent = name || "Guest";
  const muted = $("#tile-self .tile-muted").cloneNode(true);
  muted.hidden = true;
  cap.append(nm, muted);
  tile.append(video, off, cap);
  $("#grid").append(tile);
  p = { id, name: name || "Guest", tile, video, stream: new MediaStream() };
  video.srcObject = p.stream;
  state.peers.set(id, p);
  layout();
  return p;
}

function removePeer(id, announce) {
  const p = state.peers.get(id);
  if (!p) return;
  p.tile.remove();
  state.peers.delete(id);
  if (announce) systemLine(`${p.name} left`);
  layout();
}

function onTrack(ev) {
  const info = state.tracks.get(ev.track.id);
  const owner = info?.participant || ev.streams[0]?.id;
  const p = addPeer(owner, "");
  if (!p) return;
  p.stream.addTrack(ev.track);
  if (ev.track.kind === "video") {
    p.tile.classList.remove("cam-off");
    ev.track.onunmute = () => p.tile.classList.toggle("cam-off", p.videoMuted === true);
  }
  ev.track.onended = () => p.stream.removeTrack(ev.track);
  p.video.play().catch(() => {});
  if (!state.firstFrameAt && ev.track.kind === "video") watchFirstFrame(p.video);
}

// watchFirstFrame records when the first remote frame is shown (the
// figure "join click to first remote frame").
function watchFirstFrame(video) {
  const done = () => {
    if (!state.firstFrameAt) state.firstFrameAt = performance.now();
  };
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(done);
  else video.addEventListener("loadeddata", done, { once: true });
}

function onMute(m) {
  const p = state.peers.get(m.participant);
  if (!p) return;
  if (m.kind === "audio") p.tile.querySelector(".tile-muted").hidden = !m.muted;
  else {
    p.videoMuted = m.muted;
    p.tile.classList.toggle("cam-off", !!m.muted);
  }
}

function layout() {
  const n = 1 + state.peers.size;
  const grid = $("#grid");
  grid.dataset.count = String(Math.min(n, 7));
  if (n > 6) grid.dataset.many = "";
  else delete grid.dataset.many;
  $("#people-count").textContent = String(n);
}

// ---- chat ----------------------------------------------------------------

const seenChat = new Set();
function onChat(m) {
  if (m.type !== "chat") return;
  const key = `${m.participant}|${m.time}|${m.text}`;
  if (seenChat.has(key)) return;
  seenChat.add(key);
  const li = document.createElement("li");
  li.className = m.participant === state.me ? "mine" : "";
  li.dataset.participant = m.participant || "";
  const meta = document.createElement("div");
  meta.className = "meta";
  const who = document.createElement("b");
  who.textContent = m.participant === state.me ? "You" : m.name || "Guest";
  const when = document.createElement("time");
  const at = new Date(m.time || Date.now());
  when.dateTime = at.toISOString();
  when.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(who, when);
  const text = document.createElement("div");
  text.className = "text";
  text.textContent = m.text;
  li.append(meta, text);
  appendChat(li);
  if (!m.old && !body.classList.contains("chat-open") && m.participant !== state.me) {
    const b = $("#chat-badge");
    b.textContent = String((parseInt(b.textContent, 10) || 0) + 1);
    b.hidden = false;
  }
}

function systemLine(text) {
  const li = document.createElement("li");
  li.className = "system";
  li.textContent = text;
  appendChat(li);
}

function appendChat(li) {
  const log = $("#chat-log");
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 40;
  log.append(li);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function setChat(open) {
  body.classList.toggle("chat-open", open);
  $("#btn-chat").setAttribute("aria-pressed", String(open));
  if (open) {
    $("#chat-badge").hidden = true;
    $("#chat-badge").textContent = "";
    $("#chat-input")?.focus({ preventScroll: true });
  }
}

// ---- controls --------------------------------------------------------------

function setMic(on) {
  state.micOn = on;
  applyLocalState();
  if (state.pub) send({ type: "mute", kind: "audio", muted: !on });
}

function setCam(on) {
  state.camOn = on;
  applyLocalState();
  if (state.pub && !state.screen) send({ type: "mute", kind: "video", muted: !on });
}

function videoSender() {
  return state.pub?.getSenders().find((s) => s.track?.kind === "video" || s._video);
}

async function flipCamera() {
  const old = state.local.getVideoTracks()[0];
  state.facing = state.facing === "user" ? "environment" : "user";
  const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
  const currentID = old?.getSettings().deviceId;
  let constraint = { facingMode: { exact: state.facing } };
  if (!isPhone && cams.length > 1) {
    const i = cams.findIndex((d) => d.deviceId === currentID);
    constraint = { deviceId: { exact: cams[(i + 1) % cams.length].deviceId } };
  }
  let fresh;
  try {
    old?.stop();
    fresh = (await navigator.mediaDevices.getUserMedia({ video: constraint })).getVideoTracks()[0];
  } catch (err) {
    toast("Could not switch camera: " + err.name);
    fresh = (await navigator.mediaDevices.getUserMedia({ video: true })).getVideoTracks()[0];
  }
  if (old) state.local.removeTrack(old);
  state.local.addTrack(fresh);
  fresh.enabled = state.camOn;
  if (!state.screen) await videoSender()?.replaceTrack(fresh);
  $("#self-video").srcObject = state.local;
  $("#tile-self").classList.toggle("front", state.facing === "user");
}

async function toggleShare() {
  if (state.screen) return stopShare();
  let s;
  try {
    s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
  } catch (err) {
    if (err.name !== "NotAllowedError") toast("Screen sharing failed: " + err.name);
    return;
  }
  const track = s.getVideoTracks()[0];
  track.contentHint = "detail";
  const sender = videoSender();
  if (!sender) {
    s.getTracks().forEach((t) => t.stop());
    toast("Join with a camera to share your screen.");
    return;
  }
  // The node hears of the share, and may refuse it, before anyone sees it.
  state.screen = s;
  let accepted = true;
  await serial("publish", () =>
    publishOffer(false).catch(async (err) => {
      accepted = false;
      await state.pub?.setLocalDescription({ type: "rollback" }).catch(() => {});
      throw err;
    }),
  );
  if (!accepted || state.screen !== s) {
    s.getTracks().forEach((t) => t.stop());
    if (state.screen === s) state.screen = null;
    return;
  }
  await sender.replaceTrack(track);
  send({ type: "mute", kind: "video", muted: false });
  track.onended = () => stopShare();
  $("#self-video").srcObject = s;
  $("#tile-self").classList.add("screen");
  $("#btn-share").setAttribute("aria-pressed", "true");
  applyLocalState();
}

async function stopShare() {
  if (!state.screen) return;
  state.screen.getTracks().forEach((t) => t.stop());
  state.screen = null;
  const cam = state.local.getVideoTracks()[0] || null;
  await videoSender()?.replaceTrack(cam);
  if (state.pub) serial("publish", () => publishOffer(false)); // no longer a screen
  if (!state.camOn) send({ type: "mute", kind: "video", muted: true });
  $("#self-video").srcObject = state.local;
  $("#tile-self").classList.remove("screen");
  $("#btn-share").setAttribute("aria-pressed", "false");
  applyLocalState();
}

function closeConnections() {
  for (const pc of [state.pub, state.sub]) {
    try {
      pc?.close();
    } catch (_) {}
  }
  state.pub = state.sub = null;
  state.queues = { publish: Promise.resolve(), subscribe: Promise.resolve() };
  waiting.clear();
  for (const id of [...state.peers.keys()]) removePeer(id, false);
  state.tracks.clear();
  const ws = state.ws;
  state.ws = null;
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
}

function leave() {
  if (state.ws?.readyState === WebSocket.OPEN) send({ type: "leave" });
  finish("You left the call", "");
}

function finish(title, text) {
  state.leaving = true;
  clearTimeout(state.iceRefresh);
  window.dispatchEvent(new CustomEvent("siteline:left"));
  closeConnections();
  state.local?.getTracks().forEach((t) => t.stop());
  state.screen?.getTracks().forEach((t) => t.stop());
  body.dataset.state = "after";
  $("#incall").hidden = true;
  $("#prejoin").hidden = true;
  $("#after").hidden = false;
  $("#after-title").textContent = title;
  $("#after-text").textContent = text;
  const rejoin = $("#rejoin");
  rejoin.hidden = title !== "You left the call";
  rejoin.href = location.pathname;
}

function onError(m) {
  let msg = m.error || m.code;
  if (m.code === "forbidden" && m.permission) msg = `Not allowed: you lack the permission ${m.permission}.`;
  if (body.dataset.state === "joining") {
    state.leaving = true;
    closeConnections();
    body.dataset.state = "prejoin";
    joinButton.disabled = false;
    showError(sentence(msg));
    return;
  }
  toast(sentence(msg));
}

let toastTimer = 0;
function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

function sentence(s) {
  s = String(s || "");
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

// ---- connection quality --------------------------------------------------

// quality reads getStats every 2 s: round-trip time and, for what we
// receive, the loss rate since the last reading.
let lastIn = { lost: 0, recv: 0 };
async function quality() {
  if (body.dataset.state !== "incall" || !state.sub) return;
  let rtt = null;
  let lost = 0;
  let recv = 0;
  for (const pc of [state.pub, state.sub]) {
    if (!pc) continue;
    const stats = await pc.getStats().catch(() => null);
    stats?.forEach((r) => {
      if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded" && r.currentRoundTripTime != null) {
        rtt = Math.max(rtt ?? 0, r.currentRoundTripTime);
      }
      if (r.type === "inbound-rtp" && pc === state.sub) {
        lost += r.packetsLost || 0;
        recv += r.packetsReceived || 0;
      }
    });
  }
  const dl = lost - lastIn.lost;
  const dr = recv - lastIn.recv;
  lastIn = { lost, recv };
  const loss = dr + dl > 0 ? dl / (dr + dl) : 0;
  let level = "good";
  if (rtt == null && state.peers.size === 0) level = "good";
  else if (rtt == null) level = "unknown";
  if ((rtt ?? 0) > 0.4 || loss > 0.08) level = "poor";
  else if ((rtt ?? 0) > 0.15 || loss > 0.02) level = "fair";
  setQuality(level, rtt, loss);
}

function updateQualityFromState() {
  const bad = [state.pub, state.sub].some((pc) => pc && ["failed", "disconnected"].includes(pc.iceConnectionState));
  if (bad) setQuality("lost", null, 0);
}

function setQuality(level, rtt, loss) {
  const el = $("#quality");
  el.dataset.level = level;
  const words = { good: "good", fair: "fair", poor: "poor", lost: "reconnecting", unknown: "measuring" }[level];
  let label = `Connection quality: ${words}`;
  if (rtt != null) label += ` · ${Math.round(rtt * 1000)} ms round trip`;
  if (loss > 0) label += ` · ${(loss * 100).toFixed(1)}% loss`;
  el.title = label;
  el.setAttribute("aria-label", label);
}

setInterval(() => {
  quality();
  if (state.startedAt && body.dataset.state === "incall") {
    const s = Math.floor((Date.now() - state.startedAt) / 1000);
    const hh = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    $("#timer").textContent = (hh ? hh + ":" : "") + mm + ":" + ss;
  }
}, 2000);

// ---- wiring ----------------------------------------------------------------

function wire() {
  if (state.shareScreen) joinButton.querySelector("span").textContent = canShareScreen() ? "Share my screen" : "Share my camera";
  $("#pre-mic").addEventListener("click", () => setMic(!state.micOn));
  $("#pre-cam").addEventListener("click", () => setCam(!state.camOn));
  $("#btn-mic").addEventListener("click", () => setMic(!state.micOn));
  $("#btn-cam").addEventListener("click", () => setCam(!state.camOn));
  $("#btn-flip").addEventListener("click", () => flipCamera().catch((e) => toast(String(e))));
  $("#btn-share")?.addEventListener("click", () => toggleShare());
  $("#btn-chat").addEventListener("click", () => setChat(!body.classList.contains("chat-open")));
  $("#chat-close").addEventListener("click", () => setChat(false));
  $("#btn-leave").addEventListener("click", leave);
  $("#btn-end")?.addEventListener("click", () => {
    if (window.confirm("End the call for everyone?")) send({ type: "end" });
  });
  $("#copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      toast("Call link copied.");
    } catch (_) {
      toast(location.href);
    }
  });
  $("#chat-form")?.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("#chat-input");
    const text = input.value.trim();
    if (!text) return;
    send({ type: "chat", text });
    input.value = "";
  });
  for (const sel of ["#cam-select", "#mic-select"]) {
    $(sel)?.addEventListener("change", () => startPreview());
  }
  $("#join-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    state.joinClickedAt = performance.now();
    state.firstFrameAt = 0;
    state.name = ($("#display-name").value || "").trim() || state.name;
    joinButton.disabled = true;
    showError("");
    meterCtx?.close().catch(() => {});
    // Asked for the screen: pick it now, while the click lets the page.
    if (state.shareScreen && canShareScreen() && !state.screen) {
      try {
        const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
        s.getVideoTracks()[0].contentHint = "detail";
        state.screen = s;
      } catch (_) {
        toast("The screen was not shared: your camera is shown instead.");
      }
    }
    try {
      await join();
    } catch (err) {
      body.dataset.state = "prejoin";
      joinButton.disabled = false;
      showError(String(err.message || err));
    }
  });
  document.addEventListener("keydown", (ev) => {
    if (body.dataset.state !== "incall" || ev.target.closest("input, textarea, select")) return;
    if (ev.key === "m" || ev.key === "M") setMic(!state.micOn);
    if (ev.key === "v" || ev.key === "V") setCam(!state.camOn);
  });
  window.addEventListener("pagehide", () => {
    if (body.dataset.state === "incall") send({ type: "leave" });
  });
}

if (body.dataset.ended === "true") {
  body.dataset.state = "ended";
} else {
  wire();
  startPreview().finally(() => {
    joinButton.disabled = false;
    body.dataset.ready = "true";
  });
}

// ---- supervision --------------------------------------------------------

// showMonitoring shows the indicator the server sends the supervised
// member: who watches, and whether they coach.
function showMonitoring(m) {
  const el = $("#monitor-banner");
  if (!el) return;
  el.hidden = !m;
  if (!m) return;
  el.dataset.mode = m.mode || "sit-in";
  if (m.mode === "coach") el.textContent = `${m.name} is coaching you`;
  else if (state.shareScreen) el.textContent = `${m.name} is watching your ${state.screen ? "screen" : "camera"}`;
  else el.textContent = `Your lead ${m.name} is listening`;
}

// toggleCoach publishes the microphone to the member (the first time)
// and turns coaching on or off.
async function toggleCoach() {
  const on = !state.coaching;
  if (on && !state.coachTrack) {
    const audio = state.local?.getAudioTracks()[0];
    if (!audio) return toast("No microphone to coach with.");
    state.coachTrack = audio;
    state.pub.addTransceiver(audio, { direction: "sendonly", streams: [state.local] });
    await serial("publish", () => publishOffer(false));
  }
  state.coaching = on;
  $("#btn-coach").setAttribute("aria-pressed", String(on));
  send({ type: "coach", coaching: on });
}

// reveal makes the supervisor a visible participant, who then publishes
// as anyone does.
function reveal() {
  send({ type: "reveal" });
  state.hidden = false;
  state.coaching = false;
  $("#btn-reveal").hidden = true;
  $("#btn-coach").hidden = true;
  $(".sup-label").textContent = "Supervising, visible";
  const stream = state.local;
  const video = stream?.getVideoTracks()[0];
  if (video) state.pub.addTransceiver(video, { direction: "sendonly", streams: [stream] });
  const audio = stream?.getAudioTracks()[0];
  if (audio && audio !== state.coachTrack) state.pub.addTransceiver(audio, { direction: "sendonly", streams: [stream] });
  if (audio || video) serial("publish", () => publishOffer(false));
}

$("#btn-reveal")?.addEventListener("click", reveal);
$("#btn-coach")?.addEventListener("click", () => toggleCoach().catch((err) => toast(err.message)));
$("#btn-takeover")?.addEventListener("click", () => {
  const leaves = confirm("Take the session over. Should the member leave the call? (Cancel keeps them in.)");
  if (state.hidden) reveal();
  send({ type: "take-over", member_leaves: leaves });
});
$("#btn-transfer")?.addEventListener("click", () => {
  const sel = $("#transfer-to");
  const [kind, id] = sel.value.split(":");
  if (!id) return toast("Choose the person or the team queue to transfer to.");
  const name = sel.selectedOptions[0].textContent;
  const leaves = confirm(`Transfer the session to ${name}. Should the member leave the call? (Cancel keeps them in.)`);
  send(kind === "team" ? { type: "transfer", to_team: id, member_leaves: leaves }
    : { type: "transfer", to_user: id, member_leaves: leaves });
});
