// The guest's join page: a camera and microphone check before joining.
// The page works without it (the form posts); with it the guest sees
// their own picture and a microphone level, and a refused permission is
// explained in plain words. The permission given here carries over to the
// call page on the same site.

const $ = (sel) => document.querySelector(sel);
const video = $("#jc-video");
const idle = $("#jc-idle");
const status = $("#jc-status");
const start = $("#jc-start");
const meter = $("#jc-meter");
const bar = $("#jc-meter-bar");
const levelRow = $("#jc-level-row");

let stream = null;
let audio = null;
let frame = 0;

function say(text, kind) {
  status.textContent = text;
  status.classList.toggle("bad", kind === "bad");
  status.classList.toggle("good", kind === "good");
}

// explain turns a getUserMedia failure into what the guest can do.
function explain(err) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "The browser was not allowed to use your camera or microphone. Open the site settings (the icon left of the address), allow the camera and the microphone, then test again. You can also join without them and allow them later.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera or microphone was found. Connect one, or join anyway: you can still see, hear and chat with the others.";
    case "NotReadableError":
    case "AbortError":
      return "Your camera or microphone is in use by another app. Close that app (another call, the camera app), then test again.";
    default:
      return "The camera and microphone could not be started" + (err && err.message ? " (" + err.message + ")" : "") + ". You can join anyway.";
  }
}

function stop() {
  cancelAnimationFrame(frame);
  if (stream) stream.getTracks().forEach((t) => t.stop());
  if (audio) audio.close().catch(() => {});
  stream = null;
  audio = null;
}

// level shows the microphone's loudness, 0 to 100.
function level(analyser) {
  const data = new Uint8Array(analyser.fftSize);
  const tick = () => {
    analyser.getByteTimeDomainData(data);
    let sum = 0;
    for (const v of data) sum += ((v - 128) / 128) ** 2;
    const pct = Math.min(100, Math.round(Math.sqrt(sum / data.length) * 300));
    bar.style.width = pct + "%";
    meter.setAttribute("aria-valuenow", String(pct));
    frame = requestAnimationFrame(tick);
  };
  tick();
}

async function test() {
  stop();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("This browser cannot use a camera here: the page must be opened over a secure (https) address, in a recent browser.", "bad");
    return;
  }
  start.disabled = true;
  say("Waiting for your permission to use the camera and microphone…");
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  } catch (err) {
    // A camera may be missing while a microphone works: try the microphone alone.
    if (err && (err.name === "NotFoundError" || err.name === "NotReadableError")) {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (_) {
        stream = null;
      }
    }
    if (!stream) {
      start.disabled = false;
      say(explain(err), "bad");
      return;
    }
  }
  const hasVideo = stream.getVideoTracks().length > 0;
  video.srcObject = stream;
  video.hidden = !hasVideo;
  idle.hidden = hasVideo;
  if (stream.getAudioTracks().length > 0 && window.AudioContext) {
    audio = new AudioContext();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 512;
    audio.createMediaStreamSource(stream).connect(analyser);
    levelRow.hidden = false;
    level(analyser);
  }
  start.disabled = false;
  start.querySelector("span").textContent = "Test again";
  document.body.dataset.check = hasVideo ? "ok" : "audio-only";
  say(hasVideo ? "Your camera and microphone work. Speak: the bar moves when the microphone hears you." :
    "Your microphone works but no camera was found: the others will hear you without seeing you.", "good");
}

if (start) {
  start.addEventListener("click", () => test());
  // The call page opens the devices again: free them when leaving.
  $("#join-form").addEventListener("submit", stop);
  window.addEventListener("pagehide", stop);
}
