package attachments

import (
	"context"
	"errors"
	"fmt"

	"siteline/cluster/history"
	"siteline/node/internal/usecase"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Who may read a session's media and history: its participants, past or
// present (guests only while their call runs, as their login does), and
// users of its organisation with see-all-call-logs; the bytes of media
// also need download-media for those who were not in the call.

// canRead decides whether a may read session s; download asks for the
// bytes of its media.
func (ms *Service) canRead(ctx context.Context, a web.Actor, s storage.Session, download bool) error {
	switch {
	case a.Local:
		return nil
	case isGuest(a):
		if a.CallID == s.ID {
			return nil
		}
		return &storage.ForbiddenError{Permission: policy.OutsideTheCall}
	case s.OrgID != a.OrgID:
		return fmt.Errorf("session %s: %w", s.ID, storage.ErrNotFound)
	}
	took, err := ms.tookPart(ctx, a.UserID, s)
	if err != nil || took {
		return err
	}
	if err := ms.authz.Check(a.OrgID, a.UserID, policy.SeeAllCallLogs); err != nil {
		return err
	}
	if download {
		return ms.authz.Check(a.OrgID, a.UserID, policy.DownloadMedia)
	}
	return nil
}

// tookPart reports whether the user started the session or was in it.
func (ms *Service) tookPart(ctx context.Context, userID string, s storage.Session) (bool, error) {
	if s.CreatedBy == userID {
		return true, nil
	}
	ps, err := ms.store.SessionParticipants(ctx, s.ID)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.UserID == userID {
			return true, nil
		}
	}
	return false, nil
}

func isGuest(a web.Actor) bool { return usecase.IsGuest(a) }

// readableSession returns a session the caller may read.
func (ms *Service) readableSession(ctx context.Context, a web.Actor, id string, download bool) (storage.Session, error) {
	if isGuest(a) && a.CallID != id {
		return storage.Session{}, &storage.ForbiddenError{Permission: policy.OutsideTheCall}
	}
	s, err := ms.store.Session(ctx, id)
	if err != nil {
		return s, err
	}
	return s, ms.canRead(ctx, a, s, download)
}

// SessionMedia lists a session's snapshots and files.
func (ms *Service) SessionMedia(ctx context.Context, a web.Actor, sessionID string) ([]storage.Media, error) {
	if _, err := ms.readableSession(ctx, a, sessionID, false); err != nil {
		return nil, fmt.Errorf("media of session %s: %w", sessionID, err)
	}
	return ms.store.SessionMedia(ctx, sessionID)
}

// SessionRecordings lists a session's recordings.
func (ms *Service) SessionRecordings(ctx context.Context, a web.Actor, sessionID string) ([]storage.Recording, error) {
	if _, err := ms.readableSession(ctx, a, sessionID, false); err != nil {
		return nil, fmt.Errorf("recordings of session %s: %w", sessionID, err)
	}
	return ms.store.SessionRecordings(ctx, sessionID)
}

// OpenMedia returns a snapshot or file and its bytes.
func (ms *Service) OpenMedia(ctx context.Context, a web.Actor, id string) (storage.Media, web.Blob, error) {
	m, err := ms.store.Media(ctx, id)
	if err != nil {
		return m, nil, guestNotFound(a, err)
	}
	if _, err := ms.readableSession(ctx, a, m.SessionID, true); err != nil {
		return m, nil, fmt.Errorf("media %s: %w", id, hideSession(err))
	}
	if m.DeletedAt != nil {
		return m, nil, gone("media "+id, m.DeletedBy, *m.DeletedAt)
	}
	f, err := ms.open.Open(ctx, m.BlobKey, m.Origin, m.Size)
	if err != nil {
		return m, nil, mediaUnreachable("media "+id, err)
	}
	return m, f, nil
}

// OpenRecording returns a recording and its bytes.
func (ms *Service) OpenRecording(ctx context.Context, a web.Actor, id string) (storage.Recording, web.Blob, error) {
	r, err := ms.store.Recording(ctx, id)
	if err != nil {
		return r, nil, guestNotFound(a, err)
	}
	if _, err := ms.readableSession(ctx, a, r.SessionID, true); err != nil {
		return r, nil, fmt.Errorf("recording %s: %w", id, hideSession(err))
	}
	if r.DeletedAt != nil || r.Status == storage.RecordingDeleted {
		at := r.StartedAt
		if r.DeletedAt != nil {
			at = *r.DeletedAt
		}
		return r, nil, gone("recording "+id, r.DeletedBy, at)
	}
	f, err := ms.open.Open(ctx, r.BlobKey, r.Origin, r.Size)
	if err != nil {
		return r, nil, mediaUnreachable("recording "+id, err)
	}
	return r, f, nil
}

// SessionDetail is the session page's content.
func (ms *Service) SessionDetail(ctx context.Context, a web.Actor, id string) (web.SessionDetail, error) {
	var d web.SessionDetail
	var err error
	if d.Session, err = ms.readableSession(ctx, a, id, false); err != nil {
		return d, err
	}
	if d.Participants, err = ms.store.SessionParticipants(ctx, id); err != nil {
		return d, err
	}
	if d.Events, err = ms.store.SessionEvents(ctx, id); err != nil {
		return d, err
	}
	if d.Media, err = ms.store.SessionMedia(ctx, id); err != nil {
		return d, err
	}
	if d.Recordings, err = ms.store.SessionRecordings(ctx, id); err != nil {
		return d, err
	}
	if d.Deleted, err = ms.store.SessionDeletions(ctx, id); err != nil {
		return d, err
	}
	d.CanDelete = ms.permit(a, policy.DeleteMedia) == nil
	return d, nil
}

// hideSession answers a record of a session that is not found (another
// organisation's) as a record that does not exist, without the session's id.
func hideSession(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return storage.ErrNotFound
	}
	return err
}

// guestNotFound hides from a guest whether a record outside their call
// exists.
func guestNotFound(a web.Actor, err error) error {
	if isGuest(a) && errors.Is(err, storage.ErrNotFound) {
		return &storage.ForbiddenError{Permission: policy.OutsideTheCall}
	}
	return err
}

// mediaUnreachable is the answer when the bytes of what (a media or
// recording) could not be opened: their origin node out of reach (503),
// or answering other bytes than the key names (502, nothing kept).
func mediaUnreachable(what string, err error) error {
	var ue *history.UnreachableError
	switch {
	case errors.As(err, &ue):
		return &web.Error{Status: 503, Code: "media_unreachable",
			Message: fmt.Sprintf("the bytes of %s are kept at the site where it was recorded, and %s; they are copied here on the first view once the site is reachable", what, ue)}
	case errors.Is(err, history.ErrOriginMissing):
		return &web.Error{Status: 410, Code: "gone",
			Message: fmt.Sprintf("%s was deleted at the site where it was recorded (its deletion has not reached this node yet): its bytes are no longer kept: %v", what, err)}
	case errors.Is(err, storage.ErrBlobMismatch):
		return &web.Error{Status: 502, Code: "media_mismatch",
			Message: fmt.Sprintf("%s: the site where it was recorded answered other bytes than it recorded; nothing was kept: %v", what, err)}
	case errors.Is(err, history.ErrOriginAnswer), errors.Is(err, storage.ErrBlobTooLarge):
		return &web.Error{Status: 502, Code: "media_unavailable",
			Message: fmt.Sprintf("%s: the site where it was recorded could not give its bytes; nothing was kept: %v", what, err)}
	}
	return fmt.Errorf("%s: %w", what, err)
}
