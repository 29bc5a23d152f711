package attachments

import (
	"context"
	"fmt"
	"time"

	"siteline/node/internal/ids"
	"siteline/node/internal/usecase"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Deleting a snapshot, file or recording needs delete-media and a session
// the deleter may read (theirs, or see-all-call-logs), and happens at the
// site that holds it: its row becomes a tombstone, with its session
// event, the audit event and their history records in one transaction;
// then its bytes go unless a live row shares them (blobs are content-
// addressed). Headquarters applies the deletion from the history and drops
// its copy; the sweeper (sweep.go) finishes what a crash left undone.

// AuditMediaDelete is the audit action of a deletion.
const AuditMediaDelete = "media.delete"

// target is what a deletion removes, read from its row.
type target struct {
	what, id, kind, name, key, origin string
	session                           string
	deletedAt                         *time.Time
	deletedBy                         string
}

// DeleteMedia deletes a snapshot or file.
func (ms *Service) DeleteMedia(ctx context.Context, a web.Actor, id string) (storage.MediaDeletion, error) {
	if err := ms.permit(a, policy.DeleteMedia); err != nil {
		return storage.MediaDeletion{}, err
	}
	m, err := ms.store.Media(ctx, id)
	if err != nil {
		return storage.MediaDeletion{}, err
	}
	return ms.delete(ctx, a, target{what: storage.DeletedMedia, id: m.ID, kind: m.Kind, name: m.Name, key: m.BlobKey,
		origin: m.Origin, session: m.SessionID, deletedAt: m.DeletedAt, deletedBy: m.DeletedBy})
}

// DeleteRecording deletes a recording file.
func (ms *Service) DeleteRecording(ctx context.Context, a web.Actor, id string) (storage.MediaDeletion, error) {
	if err := ms.permit(a, policy.DeleteMedia); err != nil {
		return storage.MediaDeletion{}, err
	}
	r, err := ms.store.Recording(ctx, id)
	if err != nil {
		return storage.MediaDeletion{}, err
	}
	t := target{what: storage.DeletedRecording, id: r.ID, kind: "recording", name: r.Name, key: r.BlobKey,
		origin: r.Origin, session: r.SessionID, deletedAt: r.DeletedAt, deletedBy: r.DeletedBy}
	if t.deletedAt == nil && r.Status == storage.RecordingDeleted {
		t.deletedAt = &r.StartedAt // deleted before deletions were kept
	}
	return ms.delete(ctx, a, t)
}

func (ms *Service) delete(ctx context.Context, a web.Actor, t target) (storage.MediaDeletion, error) {
	what := t.what + " " + t.id
	// Only what one may see: a participant's, or with see-all-call-logs.
	s, err := ms.readableSession(ctx, a, t.session, false)
	if err != nil {
		return storage.MediaDeletion{}, fmt.Errorf("%s: %w", what, hideSession(err))
	}
	if t.deletedAt != nil {
		return storage.MediaDeletion{}, gone(what, t.deletedBy, *t.deletedAt)
	}
	if t.origin != "" {
		return storage.MediaDeletion{}, &web.Error{Status: 409, Code: "delete_at_site",
			Message: fmt.Sprintf("%s was recorded at site %s and is kept there (node %s): delete it on that site's node; the deletion reaches this node with the site's history", what, s.SiteID, t.origin)}
	}
	now := ms.now().UTC()
	by := usecase.ActorID(a)
	d := storage.MediaDeletion{What: t.what, ID: t.id, SessionID: s.ID, OrgID: s.OrgID, Kind: t.kind, Name: t.name,
		SHA256: t.key, At: now, By: by, ByName: a.Name}
	ev := storage.SessionEvent{ID: ids.New(), SessionID: s.ID, At: now, Kind: storage.EventMediaDeleted, ActorID: by,
		Payload: usecase.Payload(map[string]any{"media": t.id, "what": t.what, "kind": t.kind, "file_name": t.name, "name": a.Name})}
	audit := storage.AuditEvent{ID: ids.New(), OrgID: s.OrgID, SiteID: ms.siteID, At: now, ActorID: by,
		Action: AuditMediaDelete, Target: t.id,
		Detail: string(usecase.Payload(map[string]any{"session": s.ID, "what": t.what, "kind": t.kind, "name": t.name, "sha256": t.key}))}
	if err := ms.store.DeleteMedia(ctx, d, ev, audit); err != nil {
		return storage.MediaDeletion{}, err
	}
	// The deletion is on disk; the bytes go now, or with the sweeper's
	// next pass if this fails.
	_ = removeDeleted(ctx, ms.store, ms.blobs, d)
	if t.what == storage.DeletedMedia {
		ms.announceDeleted(s.ID, d)
	}
	return d, nil
}

// gone is the answer about media deleted already: 410.
func gone(what, by string, at time.Time) error {
	who := ""
	if by != "" {
		who = " by " + by
	}
	return &web.Error{Status: 410, Code: "gone",
		Message: fmt.Sprintf("%s was deleted%s at %s: its bytes are no longer kept", what, who, at.UTC().Format(time.RFC3339))}
}

// removeDeleted removes the bytes of deletion d unless a live row shares
// them, and records that they were dealt with.
func removeDeleted(ctx context.Context, store SweepStore, blobs SweepBlobs, d storage.MediaDeletion) error {
	if storage.ValidBlobKey(d.SHA256) {
		if _, err := blobs.Remove(d.SHA256, func(key string) (bool, error) { return store.MediaBlobLive(ctx, key) }); err != nil {
			return err
		}
	}
	return store.MarkBlobDeletionDone(ctx, d.ID)
}
