package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"siteline/cluster/history"
	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/policy"
	"siteline/storage"
	"siteline/storage/blob"
	"siteline/web"
)

// mediaService is the session media use case behind web.Media: snapshots
// and files shared in a call and the call's recordings, their bytes in the
// node's blob store (<data dir>/media), their rows and events in the site
// store. An upload is on disk, then in the store with its session event,
// then announced to the call: history is written before anyone is told.
type mediaService struct {
	n     *Node
	blobs *blob.FS
	// transfer opens blobs, fetching those of forwarded media from their
	// origin node first, serves this node's to the others and, with
	// media.copy_from_sites: always, copies every forwarded one
	// (cluster/history).
	transfer *history.Transfer
}

var _ web.Media = (*mediaService)(nil)

// mediaDir is the blob store's directory inside the data directory.
const mediaDir = "media"

func newMediaService(n *Node) (*mediaService, error) {
	blobs, err := blob.OpenFS(n.cfg.path(mediaDir))
	if err != nil {
		return nil, err
	}
	t, err := history.StartTransfer(history.TransferConfig{
		NodeID:     n.nodeID,
		Bus:        n.bus,
		Blobs:      blobs,
		CopyAlways: n.cfg.Media.CopyFromSites == copyAlways,
		Store:      n.store,
		Logger:     n.log,
	})
	if err != nil {
		return nil, err
	}
	return &mediaService{n: n, blobs: blobs, transfer: t}, nil
}

// stop ends the transfer: its copier, if any, and its chunk answers.
func (ms *mediaService) stop() {
	ms.transfer.Stop()
}

// sniffLen is how much of an upload is read to check what it is.
const sniffLen = 512

// maxMediaName bounds a stored file name, in bytes.
const maxMediaName = 255

// AddMedia stores an upload of the caller, who is in the call as
// in.Participant: the bytes, then the row and its event, then the call is
// told. Bad input and refusals change nothing.
func (ms *mediaService) AddMedia(ctx context.Context, a web.Actor, callID string, in web.MediaUpload) (storage.Media, error) {
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
	sess, err := ms.n.calls.OpenCall(ctx, a, callID)
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
	if err := checkNameChars("file name", in.Name); err != nil {
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
	limit := int64(ms.n.cfg.Media.MaxUpload)
	b, err := ms.blobs.Put(body, limit)
	if errors.Is(err, storage.ErrBlobTooLarge) {
		return storage.Media{}, &web.Error{Status: 413, Code: "too_large",
			Message: fmt.Sprintf("upload is larger than the limit of %d bytes (media.max_upload)", limit)}
	}
	if err != nil {
		return storage.Media{}, fmt.Errorf("add %s to call %s: %w", kind, callID, err)
	}
	now := ms.n.now().UTC()
	m := storage.Media{ID: newID(), SessionID: callID, OrgID: sess.OrgID, Kind: kind,
		Name: mediaName(in.Name, kind, ctype, now.Format("2006-01-02 15.04.05")), BlobKey: b.Key,
		ContentType: ctype, Size: b.Size, SHA256: b.Key, Annotations: in.Annotations,
		CreatedBy: actorID(a), Participant: by.ID, Of: in.Of, CreatedAt: now}
	evKind := storage.EventFile
	if kind == storage.MediaSnapshot {
		evKind = storage.EventSnapshot
	}
	ev := storage.SessionEvent{ID: newID(), SessionID: callID, At: now, Kind: evKind, ActorID: m.CreatedBy,
		Payload: payload(map[string]any{"media": m.ID, "participant": by.ID, "name": by.Name, "file_name": m.Name,
			"content_type": m.ContentType, "size": m.Size, "sha256": m.SHA256, "of": m.Of})}
	if err := ms.n.store.AddMedia(ctx, m, ev); err != nil {
		return storage.Media{}, fmt.Errorf("add %s to call %s: %w", kind, callID, err)
	}
	ms.announce(callID, m)
	return m, nil
}

// announce tells everyone in the call about new media.
func (ms *mediaService) announce(callID string, m storage.Media) {
	s, err := ms.n.sfu()
	if err != nil {
		return
	}
	msg := signal.New(signal.TypeMedia)
	msg.Media = &signal.Media{ID: m.ID, Kind: m.Kind, Name: m.Name, ContentType: m.ContentType, Size: m.Size,
		URL: web.MediaURL(m.ID), By: m.Participant, Of: m.Of}
	s.Broadcast(callID, msg)
}

// permit checks an in-call permission of the caller: a guest's grants, a
// user's policy.
func (ms *mediaService) permit(a web.Actor, perm string) error {
	switch {
	case a.Local:
		return nil
	case strings.HasPrefix(a.UserID, web.GuestIDPrefix):
		if slices.Contains(a.Grants, perm) {
			return nil
		}
		return &storage.ForbiddenError{Permission: perm}
	}
	return ms.n.authz.Check(a.OrgID, a.UserID, perm)
}

// participantOf returns the caller's participant in the call: pid, which
// must be theirs, or, when pid is empty, their only one.
func (ms *mediaService) participantOf(a web.Actor, callID, pid string) (sfu.ParticipantInfo, error) {
	notIn := fmt.Errorf("you are not in call %s: join it before sharing media: %w", callID, storage.ErrConflict)
	s, err := ms.n.sfu()
	if err != nil {
		return sfu.ParticipantInfo{}, err
	}
	room := s.Room(callID)
	if room == nil {
		return sfu.ParticipantInfo{}, notIn
	}
	uid := actorID(a)
	if pid != "" {
		info, ok := room.Participant(pid)
		switch {
		case !ok:
			return info, fmt.Errorf("participant %s is not in call %s: join it before sharing media: %w", pid, callID, storage.ErrConflict)
		case info.UserID != uid:
			return info, &web.Error{Status: 403, Code: "forbidden",
				Message: fmt.Sprintf("participant %s of call %s is someone else: send your own participant id", pid, callID)}
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
		return mine[0], nil
	}
	return sfu.ParticipantInfo{}, validation("participant", "is required: you are in the call more than once")
}

// checkExtras checks the fields that only snapshots have.
func (ms *mediaService) checkExtras(ctx context.Context, kind, callID string, in web.MediaUpload) error {
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
	ps, err := ms.n.store.SessionParticipants(ctx, callID)
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

// mediaName makes the stored file name: the client's base name without
// control characters, or a name made of the kind and the time.
func mediaName(name, kind, ctype, at string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' || r == '\\' || r == '"' {
			return -1
		}
		return r
	}, filepath.Base(strings.ReplaceAll(name, "\\", "/")))
	name = strings.TrimSpace(name)
	if name == "." || name == "" {
		name = map[string]string{storage.MediaSnapshot: "Snapshot", storage.MediaFile: "File"}[kind] + " " + at
		if exts, _ := mime.ExtensionsByType(ctype); len(exts) > 0 {
			name += preferredExt(ctype, exts)
		}
	}
	for len(name) > maxMediaName {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

func preferredExt(ctype string, exts []string) string {
	switch ctype {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	}
	return exts[0]
}
