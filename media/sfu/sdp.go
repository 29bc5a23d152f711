package sfu

import (
	"fmt"

	"github.com/pion/sdp/v3"

	"siteline/media/signal"
	"siteline/storage"
)

// ScreenContent is the RFC 4796 content attribute value that marks a
// video section as a screen share: a=content:slides. Publishing one needs
// signal.PermScreenShare on top of PermPublishCamera.
const ScreenContent = "slides"

// sendingKinds returns the media kinds an offer sends: "audio", "video",
// and "screen" for a video section marked a=content:slides; only the
// sections that are not rejected and are sendrecv or sendonly count.
func sendingKinds(offer string) (map[string]bool, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return nil, fmt.Errorf("parse offer: %w: %v", storage.ErrInvalid, err)
	}
	kinds := make(map[string]bool)
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if kind != "audio" && kind != "video" || md.MediaName.Port.Value == 0 {
			continue
		}
		sending, screen := true, false // sendrecv is the default
		for _, a := range md.Attributes {
			switch {
			case a.Key == "recvonly" || a.Key == "inactive":
				sending = false
			case a.Key == "content" && kind == "video" && a.Value == ScreenContent:
				screen = true
			}
		}
		if sending {
			kinds[kind] = true
			if screen {
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
