package calls

import (
	"encoding/json"
	"strings"

	"siteline/node/internal/check"
	"siteline/node/internal/ids"
	"siteline/node/internal/usecase"
	"siteline/storage"
	"siteline/web"
)

func newID() string { return ids.New() }

func validation(field, problem string) error { return check.Invalid(field, problem) }

func payload(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// actorID is who the records name for a.
func actorID(a web.Actor) string { return usecase.ActorID(a) }

// actorKind is the participant kind a call records for an actor.
func actorKind(a web.Actor) storage.UserKind {
	if a.Kind != "" {
		return a.Kind
	}
	return storage.UserRegular
}

// isGuest tells a guest, whose access ends at their own call: anything
// else is outside the call, whether it exists or not.
func isGuest(a web.Actor) bool {
	return a.CallID != "" || strings.HasPrefix(a.UserID, web.GuestIDPrefix)
}
