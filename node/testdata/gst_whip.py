#!/usr/bin/python3
"""A WHIP publisher and WHEP player around GStreamer's webrtcbin.

    gst_whip.py publish URL TOKEN --video vp8|h264 --bundle max-bundle|max-compat
    gst_whip.py play URL TOKEN --video vp8|h264 --bundle max-bundle|max-compat --frames N

ICE gathers on --local-ip alone (127.0.0.1 by default). The offer is sent once ICE gathering is complete (no trickle), as OBS and
GStreamer's whipsink do. Lines on standard output tell the caller what
happened: "location <url>" after 201, "state <ice state>" on each change,
"frames <n>" once a player has decoded n video frames. A publisher runs
until it is killed; a player exits 0 after its frames, 1 on any failure.
"""
import argparse
import sys
import urllib.error
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice  # noqa: E402

VIDEO = {
    "vp8": "vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 "
           "! application/x-rtp,media=video,encoding-name=VP8,payload=96",
    "h264": "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
            "! video/x-h264,profile=constrained-baseline "
            "! rtph264pay config-interval=-1 pt=102 aggregate-mode=zero-latency "
            "! application/x-rtp,media=video,encoding-name=H264,payload=102",
}
AUDIO = ("audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! opusenc "
         "! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111")
PLAY = {
    "vp8": "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000",
    "h264": "application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,"
            "packetization-mode=(string)1,profile-level-id=(string)42e01f",
}
POLICY = {
    "max-bundle": GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE,
    "max-compat": GstWebRTC.WebRTCBundlePolicy.MAX_COMPAT,
}


def say(*words):
    print(*words, flush=True)


def fail(msg):
    print("error", msg, file=sys.stderr, flush=True)
    sys.exit(1)


class Client:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.frames = 0
        self.connected = False

    def run(self):
        if self.args.mode == "publish":
            desc = (f"webrtcbin name=w bundle-policy={self.args.bundle} "
                    f"videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 "
                    f"! videoconvert ! {VIDEO[self.args.video]} ! w. {AUDIO} ! w.")
            self.pipe = Gst.parse_launch(desc)
            self.w = self.pipe.get_by_name("w")
        else:
            self.pipe = Gst.Pipeline.new("play")
            self.w = Gst.ElementFactory.make("webrtcbin", "w")
            self.w.set_property("bundle-policy", POLICY[self.args.bundle])
            self.pipe.add(self.w)
            recv = GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY
            for caps in ("application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000",
                         PLAY[self.args.video]):
                self.w.emit("add-transceiver", recv, Gst.Caps.from_string(caps))
            self.w.connect("pad-added", self.on_pad)
        # libnice leaves loopback out of its own gathering; given an
        # address, it gathers on that one alone.
        addr = Nice.Address.new()
        if not addr.set_from_string(self.args.local_ip):
            fail(f"bad --local-ip {self.args.local_ip}")
        ice = self.w.get_property("ice-agent")
        ice.ref()  # GStreamer 1.22 hands out its own reference with the property
        ice.get_property("agent").add_local_address(addr)
        self.w.connect("notify::ice-connection-state", self.on_state)
        self.w.connect("notify::ice-gathering-state", self.on_gathering)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", lambda _b, m: fail(m.parse_error()[0].message))
        self.pipe.set_state(Gst.State.READY)
        if self.args.mode == "publish":
            i = 0
            while True:
                t = self.w.emit("get-transceiver", i)
                if t is None:
                    break
                t.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
                i += 1
        self.posted = False
        self.offered = False
        self.w.connect("on-negotiation-needed", self.negotiate)
        self.pipe.set_state(Gst.State.PLAYING)
        # The player's transceivers may have asked for negotiation before
        # the handler was connected.
        GLib.idle_add(self.negotiate)
        GLib.timeout_add_seconds(self.args.timeout, lambda: fail("timed out"))
        self.loop.run()

    def negotiate(self, *_):
        if not self.offered:
            self.offered = True
            self.w.emit("create-offer", None, Gst.Promise.new_with_change_func(self.on_offer, None))
        return False

    def on_offer(self, promise, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply else None
        if offer is None:
            fail(f"create-offer: {reply}")
        self.w.emit("set-local-description", offer, Gst.Promise.new())

    def on_gathering(self, *_):
        if self.w.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.post)

    def post(self):
        if self.posted:
            return False
        self.posted = True
        sdp = self.w.get_property("local-description").sdp.as_text()
        print(sdp, file=sys.stderr, flush=True)
        req = urllib.request.Request(self.args.url, data=sdp.encode(), method="POST", headers={
            "Content-Type": "application/sdp", "Authorization": "Bearer " + self.args.token})
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                if resp.status != 201:
                    fail(f"POST answered {resp.status}")
                say("location", resp.headers["Location"])
                answer = resp.read().decode()
        except urllib.error.HTTPError as e:
            fail(f"POST answered {e.code}: {e.read().decode()}")
        except OSError as e:
            fail(f"POST: {e}")
        _, msg = GstSdp.SDPMessage.new_from_text(answer)
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        self.w.emit("set-remote-description", desc, Gst.Promise.new())
        return False

    def on_state(self, *_):
        st = self.w.get_property("ice-connection-state")
        say("state", st.value_nick)
        if st in (GstWebRTC.WebRTCICEConnectionState.CONNECTED, GstWebRTC.WebRTCICEConnectionState.COMPLETED) and not self.connected:
            self.connected = True
            say("connected")

    def on_pad(self, _w, pad):
        if pad.direction != Gst.PadDirection.SRC:
            return
        dec = Gst.ElementFactory.make("decodebin")
        self.pipe.add(dec)
        dec.connect("pad-added", self.on_decoded)
        dec.sync_state_with_parent()
        pad.link(dec.get_static_pad("sink"))

    def on_decoded(self, _dec, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        if caps.get_structure(0).get_name().startswith("video/"):
            pad.add_probe(Gst.PadProbeType.BUFFER, self.on_frame)

    def on_frame(self, _pad, _info):
        self.frames += 1
        if self.frames == self.args.frames:
            say("frames", self.frames)
            GLib.idle_add(self.loop.quit)
        return Gst.PadProbeReturn.OK


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["publish", "play"])
    p.add_argument("url")
    p.add_argument("token")
    p.add_argument("--video", choices=sorted(VIDEO), default="vp8")
    p.add_argument("--bundle", choices=sorted(POLICY), default="max-bundle")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--timeout", type=int, default=60)
    p.add_argument("--local-ip", default="127.0.0.1", help="the one address ICE gathers on")
    args = p.parse_args()
    Gst.init(None)
    Client(args).run()


if __name__ == "__main__":
    main()
