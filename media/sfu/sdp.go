package sfu

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pion/sdp/v3"

	"siteline/media/signal"
	"siteline/storage"
)

// ScreenContent is the RFC 4796 content attribute value that marks a
// video section as a screen share: a=content:slides. Publishing one needs
// signal.PermScreenShare on top of PermPublishCamera.
const ScreenContent = "slides"

// offerSection is what the SFU reads of one audio or video m-section of
// an offer.
type offerSection struct {
	kind, mid          string
	sending, receiving bool // by its direction; sendrecv is both
	screen             bool // a=content:slides on video
	codecs             []string
}

// offerSections parses the audio and video m-sections of an offer. Every
// section counts whatever its port: port 0 with a=bundle-only is a live
// section of the bundle (RFC 9143 §7.5.3), what GStreamer and others
// offer by default, and a section rejected by port 0 alone is still read,
// so that nothing an offer carries escapes the permission checks.
func offerSections(offer string) ([]offerSection, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return nil, fmt.Errorf("parse offer: %w: %v", storage.ErrInvalid, err)
	}
	var out []offerSection
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if kind != "audio" && kind != "video" {
			continue
		}
		s := offerSection{kind: kind, sending: true, receiving: true}
		for _, a := range md.Attributes {
			switch {
			case a.Key == "recvonly":
				s.sending = false
			case a.Key == "sendonly":
				s.receiving = false
			case a.Key == "inactive":
				s.sending, s.receiving = false, false
			case a.Key == "content" && kind == "video" && a.Value == ScreenContent:
				s.screen = true
			case a.Key == "mid":
				s.mid = a.Value
			case a.Key == "rtpmap":
				if name := rtpmapName(a.Value); name != "" && !containsFold(s.codecs, name) {
					s.codecs = append(s.codecs, name)
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// rtpmapName returns the encoding name of an rtpmap value, "96 VP8/90000"
// giving "VP8".
func rtpmapName(v string) string {
	_, rest, ok := strings.Cut(v, " ")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimSpace(rest), "/")
	return name
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// sendingKinds returns the media kinds an offer sends: "audio", "video",
// and "screen" for a video section marked a=content:slides; every section
// that is sendrecv or sendonly counts, whatever its port.
func sendingKinds(offer string) (map[string]bool, error) {
	sections, err := offerSections(offer)
	if err != nil {
		return nil, err
	}
	kinds := make(map[string]bool)
	for _, s := range sections {
		if s.sending {
			kinds[s.kind] = true
			if s.screen {
				kinds["screen"] = true
			}
		}
	}
	return kinds, nil
}

// publishPermissions returns the permissions sending kinds needs, in a
// fixed order: the camera for video, the microphone for audio, screen
// share for a screen.
func publishPermissions(kinds map[string]bool) []string {
	var perms []string
	if kinds["video"] {
		perms = append(perms, signal.PermPublishCamera)
	}
	if kinds["audio"] {
		perms = append(perms, signal.PermPublishMic)
	}
	if kinds["screen"] {
		perms = append(perms, signal.PermScreenShare)
	}
	return perms
}

// supportedCodecs returns the encoding names the SFU takes for kind.
func supportedCodecs(kind string) []string {
	list := videoCodecs()
	if kind == "audio" {
		list = audioCodecs()
	}
	var names []string
	for _, c := range list {
		name := strings.TrimPrefix(strings.TrimPrefix(c.MimeType, "video/"), "audio/")
		if !containsFold(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "no codec"
	}
	return strings.Join(names, ", ")
}

// sortedKeys lists a set's members in order, for messages.
func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
