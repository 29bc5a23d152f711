package storage

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Session event kinds of session media: a snapshot or a file shared in the
// call, a finished recording file stored.
const (
	EventSnapshot  = "snapshot"
	EventFile      = "file"
	EventRecording = "recording"
	// EventMediaDeleted: a snapshot, file or recording was deleted; its
	// payload names it (media, what, kind, file_name) and who deleted it.
	EventMediaDeleted = "media_deleted"
)

// What a MediaDeletion removes.
const (
	DeletedMedia     = "media"     // a snapshot or a file
	DeletedRecording = "recording" // a recording file
)

// Media kinds, as the media table allows them.
const (
	MediaSnapshot = "snapshot"
	MediaFile     = "file"
)

// Recording statuses, as the recordings table allows them.
const (
	RecordingRunning  = "recording"
	RecordingComplete = "complete"
	RecordingFailed   = "failed"
	RecordingDeleted  = "deleted"
)

// Media is a snapshot or a file shared in a session. Its bytes live in the
// node's blob store under BlobKey (the hex SHA-256 of the bytes, so two
// shares of the same bytes share one blob); the row is written only once
// the blob is on disk.
type Media struct {
	ID        string `json:"id"`
	SessionID string `json:"session_id"`
	OrgID     string `json:"org_id"`
	Kind      string `json:"kind"` // snapshot | file
	// Name is the file name as uploaded, for downloads.
	Name        string `json:"name"`
	BlobKey     string `json:"-"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	// Annotations is the drawing on a snapshot (JSON), if any.
	Annotations json.RawMessage `json:"annotations,omitempty"`
	// CreatedBy is the user (or guest) who shared it; Participant their
	// participant id in the call.
	CreatedBy   string `json:"created_by"`
	Participant string `json:"participant"`
	// Of is the participant whose video a snapshot shows.
	Of        string    `json:"of,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Origin is the node whose blob store holds the bytes, for media
	// forwarded from a plant; "" for this node's own.
	Origin string `json:"origin,omitempty"`
	// DeletedAt and DeletedBy mark a tombstone: the row is kept, its
	// bytes are gone.
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	DeletedBy string     `json:"deleted_by,omitempty"`
}

// Recording is one file of a session's recording: one publisher's tracks
// over the time they were recorded. StartedAt and EndedAt bound the media
// in the file.
type Recording struct {
	ID          string     `json:"id"`
	SessionID   string     `json:"session_id"`
	OrgID       string     `json:"org_id"`
	Name        string     `json:"name"`
	BlobKey     string     `json:"-"`
	ContentType string     `json:"content_type"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	Status      string     `json:"status"`
	StartedBy   string     `json:"started_by"`
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	// DurationMS is the length of the media in the file, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Participant published the tracks in the file; Tracks are their ids.
	Participant string   `json:"participant"`
	Tracks      []string `json:"tracks"`
	// Origin is the node whose blob store holds the bytes, for recordings
	// forwarded from a plant; "" for this node's own.
	Origin string `json:"origin,omitempty"`
	// DeletedAt and DeletedBy mark a tombstone (Status deleted).
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	DeletedBy string     `json:"deleted_by,omitempty"`
}

// MediaDeletion is the deletion of a snapshot, file or recording: kept as
// a tombstone where the row is, and carried to headquarters in a
// HistoryMediaDeleted record, where it wins over the row whichever of the
// two arrives first.
type MediaDeletion struct {
	What      string    `json:"what"` // DeletedMedia | DeletedRecording
	ID        string    `json:"id"`   // the media's or recording's id
	SessionID string    `json:"session_id"`
	OrgID     string    `json:"org_id"`
	Kind      string    `json:"kind"` // snapshot | file | recording
	Name      string    `json:"name"`
	SHA256    string    `json:"sha256"`
	At        time.Time `json:"at"`
	By        string    `json:"by"`
	ByName    string    `json:"by_name,omitempty"`
}

// Blob is a stored blob's key (the hex SHA-256 of its bytes) and size.
// The blob stores (storage/blob) keep session media by it.
type Blob struct {
	Key  string
	Size int64
}

// Errors of the blob stores.
var (
	// ErrBlobTooLarge: the bytes exceed the limit the writer set.
	ErrBlobTooLarge = errors.New("blob exceeds the size limit")
	// ErrBlobMismatch: the bytes are not the ones their key names.
	ErrBlobMismatch = errors.New("the bytes do not match their SHA-256")
)

// ValidBlobKey reports whether key is a blob key: a lower-case hex
// SHA-256.
func ValidBlobKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	for _, c := range key {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// BlobRef names a blob kept at another node: its key, the node, and its
// size as its row gives it.
type BlobRef struct {
	Key    string `json:"key"`
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
}

// MediaStore holds the session media rows; the bytes are the blob store's.
// Each add writes the row and its session event (with its history record)
// in one transaction, so the event is on disk before anyone is told.
type MediaStore interface {
	AddMedia(ctx context.Context, m Media, ev SessionEvent) error
	// Media returns one media row, a tombstone (DeletedAt set) included.
	Media(ctx context.Context, id string) (Media, error)
	// SessionMedia lists a session's media, oldest first, deleted ones
	// left out.
	SessionMedia(ctx context.Context, sessionID string) ([]Media, error)

	// ForwardedBlobs lists the blobs of media and recordings forwarded
	// from other nodes (Origin set), deleted ones left out, once each.
	ForwardedBlobs(ctx context.Context) ([]BlobRef, error)

	AddRecording(ctx context.Context, r Recording, ev SessionEvent) error
	// Recording returns one recording, a tombstone (DeletedAt set)
	// included.
	Recording(ctx context.Context, id string) (Recording, error)
	// SessionRecordings lists a session's recordings by start time,
	// deleted ones left out.
	SessionRecordings(ctx context.Context, sessionID string) ([]Recording, error)

	// DeleteMedia turns a live media or recording row into a tombstone
	// and, in the same transaction, appends ev (EventMediaDeleted) with
	// its HistoryMediaDeleted record and the audit event with its record.
	// A row that is not there is storage.ErrNotFound, one deleted already
	// storage.ErrConflict.
	DeleteMedia(ctx context.Context, d MediaDeletion, ev SessionEvent, audit AuditEvent) error
	// SessionDeletions lists a session's deleted media and recordings,
	// oldest deletion first.
	SessionDeletions(ctx context.Context, sessionID string) ([]MediaDeletion, error)
	// MediaBlobLive reports whether a media or recording row that is not
	// deleted refers to blob key: a blob no live row refers to may go.
	MediaBlobLive(ctx context.Context, key string) (bool, error)
}
