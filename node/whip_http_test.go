package node

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"siteline/media/mediatest"
	"siteline/policy"
	"siteline/web"
)

// whipDo sends one request to a WHIP/WHEP URL with a bearer token.
func whipDo(t *testing.T, method, url, contentType, body, tok string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// whipOffer is a pion publisher's complete offer, one send-only section
// per codec given.
func whipOffer(t *testing.T, caps ...webrtc.RTPCodecCapability) string {
	t.Helper()
	me := &webrtc.MediaEngine{}
	for i, c := range caps {
		kind := webrtc.RTPCodecTypeVideo
		if strings.HasPrefix(c.MimeType, "audio/") {
			kind = webrtc.RTPCodecTypeAudio
		}
		pt := webrtc.PayloadType(96 + i)
		if c.MimeType == webrtc.MimeTypePCMU {
			pt = 0
		}
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: c, PayloadType: pt}, kind); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for i, c := range caps {
		tr, err := webrtc.NewTrackLocalStaticRTP(c, "t"+string(rune('a'+i)), "whip")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	return mediatest.Offer(t, pc)
}

// bundleOnlyOffer makes every m-section but the first bundle-only (port
// 0, a=bundle-only, no candidates), as GStreamer offers by default.
func bundleOnlyOffer(offer string) string {
	parts := strings.Split(offer, "\r\nm=")
	for i := 2; i < len(parts); i++ {
		lines := strings.Split(parts[i], "\r\n")
		f := strings.Fields(lines[0])
		f[1] = "0"
		out := []string{strings.Join(f, " "), "a=bundle-only"}
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "a=candidate") && l != "a=end-of-candidates" {
				out = append(out, l)
			}
		}
		parts[i] = strings.Join(out, "\r\n")
	}
	return strings.Join(parts, "\r\nm=")
}

var (
	capVP8  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	capOpus = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
)

func TestWHIPAnswersWhatRFC9725Asks(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.admin)
	whip := cn.url + "/api/v1/calls/" + call.ID + "/whip"
	whep := cn.url + "/api/v1/calls/" + call.ID + "/whep"
	tok := cn.token(t, cn.tech)

	for _, u := range []string{whip, whep} {
		resp, body := whipDo(t, "OPTIONS", u, "", "", tok)
		if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Allow"), "POST") || resp.Header.Get("Accept-Post") != "application/sdp" {
			t.Errorf("OPTIONS %s = %d Allow %q Accept-Post %q %s", u, resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Accept-Post"), body)
		}
	}
	offer := whipOffer(t, capVP8)
	resp, body := whipDo(t, "POST", whip, "text/plain", offer, tok)
	if resp.StatusCode != 415 || !strings.Contains(body, "application/sdp") {
		t.Errorf("POST text/plain = %d %s, want 415 naming application/sdp", resp.StatusCode, body)
	}
	h265 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH265, ClockRate: 90000}
	pcmu := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}
	resp, body = whipDo(t, "POST", whip, "application/sdp", whipOffer(t, h265, pcmu), tok)
	if resp.StatusCode != 422 || !strings.Contains(body, "H265") || !strings.Contains(body, "VP8") {
		t.Errorf("H.265 + PCMU offer = %d %s, want 422 naming H265 and VP8", resp.StatusCode, body)
	}

	// Without the microphone, video with a bundle-only audio section is
	// refused naming it; video alone goes through.
	if st := cn.admin.do("POST", "/api/v1/policy/revoke", web.GrantInput{Subject: "role:regular", Permission: policy.CallPublishMicrophone}, nil); st != 200 {
		t.Fatalf("revoke microphone = %d", st)
	}
	resp, body = whipDo(t, "POST", whip, "application/sdp", bundleOnlyOffer(whipOffer(t, capVP8, capOpus)), tok)
	var e web.ErrorBody
	_ = json.Unmarshal([]byte(body), &e)
	if resp.StatusCode != 403 || e.Permission != policy.CallPublishMicrophone {
		t.Errorf("video + bundle-only audio without the microphone = %d %s, want 403 naming %s", resp.StatusCode, body, policy.CallPublishMicrophone)
	}
	resp, body = whipDo(t, "POST", whip, "application/sdp", offer, tok)
	if resp.StatusCode != 201 {
		t.Fatalf("video alone = %d %s", resp.StatusCode, body)
	}
	var turnLink bool
	for _, l := range resp.Header.Values("Link") {
		if !strings.Contains(l, `rel="ice-server"`) {
			t.Errorf("Link %q is not an ice-server", l)
		}
		if strings.HasPrefix(l, "<turn:") && strings.Contains(l, "username=") && strings.Contains(l, "credential=") {
			turnLink = true
		}
	}
	if !turnLink {
		t.Errorf("no TURN server with credentials in the Link headers: %q", resp.Header.Values("Link"))
	}
	session := cn.url + resp.Header.Get("Location")
	resp, body = whipDo(t, "PATCH", session, "application/trickle-ice-sdpfrag", "a=ice-ufrag:x\r\n", tok)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Errorf("PATCH = %d Allow %q %s, want 405 with Allow", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
	if resp, body = whipDo(t, "DELETE", session, "", "", tok); resp.StatusCode != 200 {
		t.Errorf("DELETE = %d %s", resp.StatusCode, body)
	}

	// With the microphone and without the camera, audio alone goes through.
	for path, perm := range map[string]string{"grant": policy.CallPublishMicrophone, "revoke": policy.CallPublishCamera} {
		if st := cn.admin.do("POST", "/api/v1/policy/"+path, web.GrantInput{Subject: "role:regular", Permission: perm}, nil); st != 200 {
			t.Fatalf("%s %s = %d", path, perm, st)
		}
	}
	if resp, body = whipDo(t, "POST", whip, "application/sdp", whipOffer(t, capOpus), tok); resp.StatusCode != 201 {
		t.Errorf("audio alone without the camera = %d %s", resp.StatusCode, body)
	}
}
