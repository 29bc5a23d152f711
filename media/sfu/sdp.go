package sfu

import (
	"fmt"

	"github.com/pion/sdp/v3"

	"siteline/storage"
)

// sendingKinds returns the media kinds ("audio", "video") an offer sends:
// the sections that are not rejected and are sendrecv or sendonly.
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
		sending := true // sendrecv is the default
		for _, a := range md.Attributes {
			if a.Key == "recvonly" || a.Key == "inactive" {
				sending = false
			}
		}
		if sending {
			kinds[kind] = true
		}
	}
	return kinds, nil
}
