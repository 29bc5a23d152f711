// Package attachments is the session media use case behind web.Media:
// snapshots and files shared in a call and the call's recordings, their
// bytes in the node's blob store, their rows and events in the site store.
// An upload is on disk, then in the store with its session event, then
// announced to the call: history is written before anyone is told.
package attachments

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/node/internal/check"
	"siteline/node/internal/ids"
	"siteline/node/internal/usecase"
	"siteline/policy"
	"siteline/storage"
	"siteline/storage/blob"
	"siteline/web"
)

// Store is what session media read and write in the site store.
type Store interface {
	AddMedia(ctx context.Context, m storage.Media, ev storage.SessionEvent) error
	Media(ctx context.Context, id string) (storage.Media, error)
	Recording(ctx context.Context, id string) (storage.Recording, error)
	Session(ctx context.Context, id string) (storage.Session, error)
	SessionParticipants(ctx context.Context, sessionID string) ([]storage.SessionParticipant, error)
	SessionEvents(ctx context.Context, sessionID string) ([]storage.SessionEvent, error)
	SessionMedia(ctx context.Context, sessionID string) ([]storage.Media, error)
	SessionRecordings(ctx context.Context, sessionID string) ([]storage.Recording, error)
	SessionDeletions(ctx context.Context, sessionID string) ([]storage.MediaDeletion, error)
	DeleteMedia(ctx context.Context, d storage.MediaDeletion, ev storage.SessionEvent, audit storage.AuditEvent) error
	SweepStore
}

// Blobs keeps the bytes of uploads (storage/blob).
type Blobs interface {
	// PutHeld stores r, refusing more than max bytes with
	// storage.ErrBlobTooLarge, and holds the blob against removal until
	// release is called.
	PutHeld(r io.Reader, max int64) (b storage.Blob, release func(), err error)
	SweepBlobs
}

// Opener opens the bytes of a blob, fetching those kept at another site
// from their origin first (cluster/history's Transfer).
type Opener interface {
	Open(ctx context.Context, key, origin string, size int64) (blob.Object, error)
}

// Authorizer checks a user's permission in the organisation's policy.
type Authorizer interface {
	Check(orgID, userID, permission string) error
}

// Room is who is in a call now.
type Room interface {
	Participants() []string
	Participant(id string) (sfu.ParticipantInfo, bool)
}

// Calls is what session media need of the call service.
type Calls interface {
	// OpenCall returns a call of the actor's that can still be joined.
	OpenCall(ctx context.Context, a web.Actor, id string) (storage.Session, error)
	// Room returns the call's room, nil when nobody is in it; an error
	// when media do not run on this node.
	Room(callID string) (Room, error)
	// Broadcast tells everyone in the call; nothing when media do not run.
	Broadcast(callID string, m signal.Message)
}

// Deps is what the service is built from.
type Deps struct {
	Store Store
	Blobs Blobs
	Open  Opener
	Authz Authorizer
	Calls Calls
	Now   func() time.Time
	// MaxUpload is the largest upload in bytes (media.max_upload).
	MaxUpload int
	// SiteID is this node's site, for the audit events of deletions.
	SiteID string
}

// Service is the use case behind web.Media.
type Service struct {
	store     Store
	blobs     Blobs
	open      Opener
	authz     Authorizer
	calls     Calls
	now       func() time.Time
	maxUpload int
	siteID    string
}

var _ web.Media = (*Service)(nil)

// New builds the service.
func New(deps Deps) *Service {
	return &Service{store: deps.Store, blobs: deps.Blobs, open: deps.Open, authz: deps.Authz, calls: deps.Calls,
		now: deps.Now, maxUpload: deps.MaxUpload, siteID: deps.SiteID}
}

func validation(field, problem string) error { return check.Invalid(field, problem) }

// sniffLen is how much of an upload is read to check what it is.
const sniffLen = 512

// AddMedia stores an upload of the caller, who is in the call as
// in.Participant: the bytes, then the row and its event, then the call is
// told. Bad input and refusals change nothing.
func (ms *Service) AddMedia(ctx context.Context, a web.Actor, callID string, in web.MediaUpload) (storage.Media, error) {
	kind, perm := in.Kind, ""
	switch kind {
	case "", storage.MediaFile:
		kind, perm = storage.MediaFile, policy.CallShareFiles
	case storage.MediaSnapshot:
		perm = policy.CallSnapshotAnnotate
	default:
		return storage.Media{}, validation("kind", fmt.Sprintf("must be snapshot or file, not %q", in.Kind))
	}
	if err := ms.permit(a, perm); err != nil {
		return storage.Media{}, err
	}
	sess, err := ms.calls.OpenCall(ctx, a, callID)
	if err != nil {
		return storage.Media{}, err
	}
	if a.CallID != "" && a.CallID != callID {
		return storage.Media{}, &storage.ForbiddenError{Permission: perm}
	}
	by, err := ms.participantOf(a, callID, in.Participant)
	if err != nil {
		return storage.Media{}, err
	}
	if err := ms.checkExtras(ctx, kind, callID, in); err != nil {
		return storage.Media{}, err
	}
	if err := check.NameChars("file name", in.Name); err != nil {
		return storage.Media{}, err
	}
	body := bufio.NewReaderSize(in.Body, sniffLen)
	head, err := body.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return storage.Media{}, fmt.Errorf("add %s to call %s: %w", kind, callID, err)
	}
	if len(head) == 0 {
		return storage.Media{}, validation("file", "is empty")
	}
	ctype, err := uploadType(kind, in.ContentType, head)
	if err != nil {
		return storage.Media{}, err
	}
	limit := int64(ms.maxUpload)
	b, release, err := ms.blobs.PutHeld(body, limit)
	if errors.Is(err, storage.ErrBlobTooLarge) {
		return storage.Media{}, &web.Error{Status: 413, Code: "too_large",
			Message: fmt.Sprintf("upload is larger than the limit of %d bytes (media.max_upload)", limit)}
	}
	if err != nil {
		return storage.Media{}, fmt.Errorf("add %s to call %s: %w", kind, callID, err)
	}
	defer release() // once the row refers to the blob, or failed to
	now := ms.now().UTC()
	m := storage.Media{ID: ids.New(), SessionID: callID, OrgID: sess.OrgID, Kind: kind,
		Name: check.FileName(in.Name, kind, ctype, now.Format("2006-01-02 15.04.05")), BlobKey: b.Key,
		ContentType: ctype, Size: b.Size, SHA256: b.Key, Annotations: in.Annotations,
		CreatedBy: usecase.ActorID(a), Participant: by.ID, Of: in.Of, CreatedAt: now}
	evKind := storage.EventFile
	if kind == storage.MediaSnapshot {
		evKind = storage.EventSnapshot
	}
	ev := storage.SessionEvent{ID: ids.New(), SessionID: callID, At: now, Kind: evKind, ActorID: m.CreatedBy,
		Payload: usecase.Payload(map[string]any{"media": m.ID, "participant": by.ID, "name": by.Name, "file_name": m.Name,
			"content_type": m.ContentType, "size": m.Size, "sha256": m.SHA256, "of": m.Of})}
	if err := ms.store.AddMedia(ctx, m, ev); err != nil {
		return storage.Media{}, fmt.Errorf("add %s to call %s: %w", kind, callID, err)
	}
	ms.announce(callID, m)
	return m, nil
}

// announce tells everyone in the call about new media.
func (ms *Service) announce(callID string, m storage.Media) {
	msg := signal.New(signal.TypeMedia)
	msg.Media = &signal.Media{ID: m.ID, Kind: m.Kind, Name: m.Name, ContentType: m.ContentType, Size: m.Size,
		URL: web.MediaURL(m.ID), By: m.Participant, Of: m.Of}
	ms.calls.Broadcast(callID, msg)
}

// announceDeleted tells everyone in the call, if it still runs here, that
// one of its snapshots or files is gone: their pages take it off.
func (ms *Service) announceDeleted(callID string, d storage.MediaDeletion) {
	msg := signal.New(signal.TypeMediaDeleted)
	msg.Media = &signal.Media{ID: d.ID, Kind: d.Kind, Name: d.Name}
	msg.Name = d.ByName
	ms.calls.Broadcast(callID, msg)
}

// permit checks an in-call permission of the caller: a guest's grants, a
// user's policy.
func (ms *Service) permit(a web.Actor, perm string) error {
	switch {
	case a.Local:
		return nil
	case strings.HasPrefix(a.UserID, web.GuestIDPrefix):
		if slices.Contains(a.Grants, perm) {
			return nil
		}
		return &storage.ForbiddenError{Permission: perm}
	}
	return ms.authz.Check(a.OrgID, a.UserID, perm)
}

// hiddenSharer refuses media from a supervisor sitting in: its
// participant id would tell the guest someone is there.
var hiddenSharer = fmt.Errorf("a supervisor sitting in hidden cannot share media; reveal yourself first: %w", storage.ErrConflict)

// participantOf returns the caller's participant in the call: pid, which
// must be theirs, or, when pid is empty, their only one.
func (ms *Service) participantOf(a web.Actor, callID, pid string) (sfu.ParticipantInfo, error) {
	notIn := fmt.Errorf("you are not in call %s: join it before sharing media: %w", callID, storage.ErrConflict)
	room, err := ms.calls.Room(callID)
	if err != nil {
		return sfu.ParticipantInfo{}, err
	}
	if room == nil {
		return sfu.ParticipantInfo{}, notIn
	}
	uid := usecase.ActorID(a)
	if pid != "" {
		info, ok := room.Participant(pid)
		switch {
		case !ok:
			return info, fmt.Errorf("participant %s is not in call %s: join it before sharing media: %w", pid, callID, storage.ErrConflict)
		case info.UserID != uid:
			return info, &web.Error{Status: 403, Code: "forbidden",
				Message: fmt.Sprintf("participant %s of call %s is someone else: send your own participant id", pid, callID)}
		case info.Hidden:
			return info, hiddenSharer
		}
		return info, nil
	}
	var mine []sfu.ParticipantInfo
	for _, id := range room.Participants() {
		if info, ok := room.Participant(id); ok && info.UserID == uid {
			mine = append(mine, info)
		}
	}
	switch len(mine) {
	case 0:
		return sfu.ParticipantInfo{}, notIn
	case 1:
		if mine[0].Hidden {
			return mine[0], hiddenSharer
		}
		return mine[0], nil
	}
	return sfu.ParticipantInfo{}, validation("participant", "is required: you are in the call more than once")
}

// checkExtras checks the fields that only snapshots have.
func (ms *Service) checkExtras(ctx context.Context, kind, callID string, in web.MediaUpload) error {
	if kind != storage.MediaSnapshot {
		switch {
		case in.Of != "":
			return validation("of", "is only for snapshots")
		case len(in.Annotations) > 0:
			return validation("annotations", "are only for snapshots")
		}
		return nil
	}
	if len(in.Annotations) > web.MaxAnnotations {
		return validation("annotations", fmt.Sprintf("are %d bytes, over the limit of %d", len(in.Annotations), web.MaxAnnotations))
	}
	if len(in.Annotations) > 0 && !json.Valid(in.Annotations) {
		return validation("annotations", "is not valid JSON")
	}
	if in.Of == "" {
		return nil
	}
	ps, err := ms.store.SessionParticipants(ctx, callID)
	if err != nil {
		return fmt.Errorf("check snapshot of %s: %w", in.Of, err)
	}
	for _, p := range ps {
		if p.ID == in.Of {
			return nil
		}
	}
	return validation("of", fmt.Sprintf("%q is not a participant of call %s", in.Of, callID))
}

// uploadType decides the stored content type from the first bytes. A
// snapshot must be a PNG or JPEG image, whatever the client says; a file
// is what its bytes look like, from an allow-list (web.SniffType), never
// what the client declared.
func uploadType(kind, declared string, head []byte) (string, error) {
	if kind != storage.MediaSnapshot {
		return web.SniffType(head), nil
	}
	mt, _, err := mime.ParseMediaType(declared)
	if declared != "" && (err != nil || (mt != "image/png" && mt != "image/jpeg")) {
		return "", validation("file", fmt.Sprintf("has content type %q: a snapshot must be image/png or image/jpeg", declared))
	}
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", nil
	case bytes.HasPrefix(head, []byte("\xff\xd8\xff")):
		return "image/jpeg", nil
	}
	return "", validation("file", "is not a PNG or JPEG image (its first bytes are neither): a snapshot must be image/png or image/jpeg")
}
