package node

import (
	"siteline/node/internal/usecase"
	"siteline/storage"
	"siteline/web"
)

// actorKind is the participant kind a call records for an actor.
func actorKind(a web.Actor) storage.UserKind {
	if a.Kind != "" {
		return a.Kind
	}
	return storage.UserRegular
}

// isGuest tells a guest, whose access ends at their own call: anything
// else is outside the call, whether it exists or not.
func isGuest(a web.Actor) bool { return usecase.IsGuest(a) }
