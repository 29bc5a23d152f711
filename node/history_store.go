package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"siteline/storage"
	"siteline/storage/sqlite"
)

// The node's history store (storage.history): the site's sessions and, at
// headquarters, the history every other node forwards, on the node's
// SQLite store (driver sqlite, the default) or on a PostgreSQL database
// (driver postgres).
//
// With PostgreSQL the node still writes what is born here to its SQLite
// store first (calls, their participants, events and media, audit events,
// the fields, service reports and media deletions people write after the
// call), each with its outbox record in the same transaction: a node whose
// database server is out of reach keeps its calls and loses nothing. The history forwarder applies
// those records to PostgreSQL in outbox order (history.Config.ApplyOwn),
// as a hub applies every other node's there. historyStore routes the
// reads: a call still live here is read from the SQLite store, which has
// its last event; everything else from PostgreSQL, which holds every
// site's history and this node's a few milliseconds after the SQLite
// store. A write after the call waits until PostgreSQL has it, so the
// page that follows shows it.

// historyDB is the history database (*postgres.Store): site history as
// the history applier and the node's own records left it.
type historyDB interface {
	sessionReader
	Media(ctx context.Context, id string) (storage.Media, error)
	Recording(ctx context.Context, id string) (storage.Recording, error)
	ServiceReport(ctx context.Context, orgID, id string) (storage.ServiceReport, error)
	ServiceReportVersions(ctx context.Context, orgID, id string) ([]storage.ServiceReport, error)

	historyReader
	MediaBlobLive(ctx context.Context, key string) (bool, error)
	MarkBlobDeletionDone(ctx context.Context, id string) error

	afterCallWriter
	// The database's own outbox: what its writes after the call added,
	// which moveOutbox takes into the SQLite store's.
	PendingHistory(ctx context.Context, limit int) ([]storage.HistoryOutboxRow, error)
	MarkHistoryPublished(ctx context.Context, through int64, at time.Time) error
	PruneHistoryOutbox(ctx context.Context, through int64, before time.Time) (int64, error)

	Ping(ctx context.Context) error
}

// sessionReader reads one session's data; both stores have it.
type sessionReader interface {
	Session(ctx context.Context, id string) (storage.Session, error)
	SessionSummary(ctx context.Context, orgID, id string) (storage.SessionSummary, error)
	SessionParticipants(ctx context.Context, sessionID string) ([]storage.SessionParticipant, error)
	SessionEvents(ctx context.Context, sessionID string) ([]storage.SessionEvent, error)
	SessionMedia(ctx context.Context, sessionID string) ([]storage.Media, error)
	SessionRecordings(ctx context.Context, sessionID string) ([]storage.Recording, error)
	SessionDeletions(ctx context.Context, sessionID string) ([]storage.MediaDeletion, error)
	SessionServiceReports(ctx context.Context, orgID, sessionID string) ([]storage.ServiceReport, error)
}

// historyStore is the node's SQLite store with the history reads and
// writes routed as the comment above says; without a history database
// (db nil) it is the SQLite store alone.
type historyStore struct {
	*sqlite.Store
	db historyDB
	// caughtUp waits until the history database holds this node's outbox
	// records through seq (the forwarder's WaitOwnApplied); nil without a
	// database or a forwarder.
	caughtUp func(ctx context.Context, seq int64) error
	// ownApplied is the highest of the node's outbox sequences the
	// database holds (the forwarder's OwnApplied); nil until the
	// forwarder runs.
	ownApplied func() int64
	log        *slog.Logger
	now        func() time.Time
	moveMu     sync.Mutex
}

// catchUpWait bounds how long a write after the call waits for the
// history database: the write is on disk here already, and the database
// gets it when it answers again.
const catchUpWait = 5 * time.Second

// source is the store a session's data is read from: the SQLite store
// while the call is live there, or while the database has not applied
// every record of the SQLite store's outbox yet; else the history
// database, which also has what other voters changed. The SQLite copy of
// an ended call when the database does not have it or does not answer.
func (h *historyStore) source(ctx context.Context, id string) sessionReader {
	if h.db == nil {
		return h.Store
	}
	local, err := h.Store.Session(ctx, id)
	if err == nil && (local.Status != storage.SessionEnded || h.dbBehind(ctx)) {
		return h.Store
	}
	_, dbErr := h.db.Session(ctx, id)
	switch {
	case dbErr == nil:
		return h.db
	case err == nil:
		if !errors.Is(dbErr, storage.ErrNotFound) {
			h.log.Warn("history database: reading the session's local copy", "session", id, "err", dbErr)
		}
		return h.Store
	}
	return h.db // neither has it: the database says so, or why not
}

func (h *historyStore) Session(ctx context.Context, id string) (storage.Session, error) {
	return h.source(ctx, id).Session(ctx, id)
}

func (h *historyStore) SessionSummary(ctx context.Context, orgID, id string) (storage.SessionSummary, error) {
	return h.source(ctx, id).SessionSummary(ctx, orgID, id)
}

func (h *historyStore) SessionParticipants(ctx context.Context, id string) ([]storage.SessionParticipant, error) {
	return h.source(ctx, id).SessionParticipants(ctx, id)
}

func (h *historyStore) SessionEvents(ctx context.Context, id string) ([]storage.SessionEvent, error) {
	return h.source(ctx, id).SessionEvents(ctx, id)
}

func (h *historyStore) SessionMedia(ctx context.Context, id string) ([]storage.Media, error) {
	return h.source(ctx, id).SessionMedia(ctx, id)
}

func (h *historyStore) SessionRecordings(ctx context.Context, id string) ([]storage.Recording, error) {
	return h.source(ctx, id).SessionRecordings(ctx, id)
}

func (h *historyStore) SessionDeletions(ctx context.Context, id string) ([]storage.MediaDeletion, error) {
	return h.source(ctx, id).SessionDeletions(ctx, id)
}

func (h *historyStore) SessionServiceReports(ctx context.Context, orgID, id string) ([]storage.ServiceReport, error) {
	return h.source(ctx, id).SessionServiceReports(ctx, orgID, id)
}

// dbBehind reports whether the history database lacks some of the
// SQLite store's outbox records.
func (h *historyStore) dbBehind(ctx context.Context) bool {
	if h.ownApplied == nil {
		return true
	}
	last, _, _, err := h.Store.HistoryCounts(ctx, 0)
	return err != nil || h.ownApplied() < last
}

// dbFirst reads from the history database, and from the SQLite store
// what the database does not have (a row written here a moment ago).
func dbFirst[T any](h *historyStore, fromDB, local func() (T, error)) (T, error) {
	if h.db == nil {
		return local()
	}
	v, err := fromDB()
	if errors.Is(err, storage.ErrNotFound) {
		return local()
	}
	return v, err
}

func (h *historyStore) Media(ctx context.Context, id string) (storage.Media, error) {
	return dbFirst(h, func() (storage.Media, error) { return h.db.Media(ctx, id) },
		func() (storage.Media, error) { return h.Store.Media(ctx, id) })
}

func (h *historyStore) Recording(ctx context.Context, id string) (storage.Recording, error) {
	return dbFirst(h, func() (storage.Recording, error) { return h.db.Recording(ctx, id) },
		func() (storage.Recording, error) { return h.Store.Recording(ctx, id) })
}

func (h *historyStore) ServiceReport(ctx context.Context, orgID, id string) (storage.ServiceReport, error) {
	return dbFirst(h, func() (storage.ServiceReport, error) { return h.db.ServiceReport(ctx, orgID, id) },
		func() (storage.ServiceReport, error) { return h.Store.ServiceReport(ctx, orgID, id) })
}

func (h *historyStore) ServiceReportVersions(ctx context.Context, orgID, id string) ([]storage.ServiceReport, error) {
	if h.db == nil {
		return h.Store.ServiceReportVersions(ctx, orgID, id)
	}
	v, err := h.db.ServiceReportVersions(ctx, orgID, id)
	if err == nil && len(v) == 0 {
		return h.Store.ServiceReportVersions(ctx, orgID, id)
	}
	return v, err
}

// The reads across sessions are the history database's alone.

// historyReader is what the history holds across sessions; both stores
// have it.
type historyReader interface {
	SearchSessions(ctx context.Context, q storage.SessionQuery) (storage.SessionPage, error)
	SearchServiceReports(ctx context.Context, q storage.ServiceReportQuery) ([]storage.ServiceReport, error)
	DashboardCounts(ctx context.Context, q storage.DashboardQuery) (storage.DashboardCounts, error)
	LastCalls(ctx context.Context, orgID string) (map[string]time.Time, error)
	Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
	ForwardedBlobs(ctx context.Context) ([]storage.BlobRef, error)
	storage.HistoryApplier
	HistoryRejected(ctx context.Context) ([]storage.HistoryRejection, error)
	PendingBlobDeletions(ctx context.Context, limit int) ([]storage.MediaDeletion, error)
	DeletionNotify() <-chan struct{}
}

// history is the store of the history across sessions: the database
// when there is one.
func (h *historyStore) history() historyReader {
	if h.db == nil {
		return h.Store
	}
	return h.db
}

func (h *historyStore) SearchSessions(ctx context.Context, q storage.SessionQuery) (storage.SessionPage, error) {
	return h.history().SearchSessions(ctx, q)
}

func (h *historyStore) SearchServiceReports(ctx context.Context, q storage.ServiceReportQuery) ([]storage.ServiceReport, error) {
	return h.history().SearchServiceReports(ctx, q)
}

func (h *historyStore) DashboardCounts(ctx context.Context, q storage.DashboardQuery) (storage.DashboardCounts, error) {
	return h.history().DashboardCounts(ctx, q)
}

func (h *historyStore) LastCalls(ctx context.Context, orgID string) (map[string]time.Time, error) {
	return h.history().LastCalls(ctx, orgID)
}

func (h *historyStore) Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	return h.history().Audit(ctx, f)
}

func (h *historyStore) ForwardedBlobs(ctx context.Context) ([]storage.BlobRef, error) {
	return h.history().ForwardedBlobs(ctx)
}

// The history applier writes to the database; the node's own records
// reach it through the same applier (history.Config.ApplyOwn).

func (h *historyStore) ApplyHistory(ctx context.Context, batch []storage.HistoryMessage) (storage.HistoryApplied, error) {
	return h.history().ApplyHistory(ctx, batch)
}

func (h *historyStore) HistoryMarks(ctx context.Context) (map[string]int64, error) {
	return h.history().HistoryMarks(ctx)
}

func (h *historyStore) HistoryRejected(ctx context.Context) ([]storage.HistoryRejection, error) {
	return h.history().HistoryRejected(ctx)
}

// The media sweeper: a blob goes only when no live row of either store
// refers to it (a row written here may not be in the database yet), and
// the deletions to carry out are the database's, which holds this node's
// and every site's it applied.

func (h *historyStore) MediaBlobLive(ctx context.Context, key string) (bool, error) {
	live, err := h.Store.MediaBlobLive(ctx, key)
	if err != nil || live || h.db == nil {
		return live, err
	}
	return h.db.MediaBlobLive(ctx, key)
}

func (h *historyStore) PendingBlobDeletions(ctx context.Context, limit int) ([]storage.MediaDeletion, error) {
	return h.history().PendingBlobDeletions(ctx, limit)
}

// MarkBlobDeletionDone marks the deletion in both stores: the SQLite copy
// of a deletion made here would otherwise stay pending there for ever.
func (h *historyStore) MarkBlobDeletionDone(ctx context.Context, id string) error {
	if h.db == nil {
		return h.Store.MarkBlobDeletionDone(ctx, id)
	}
	if err := h.db.MarkBlobDeletionDone(ctx, id); err != nil {
		return err
	}
	if err := h.Store.MarkBlobDeletionDone(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

func (h *historyStore) DeletionNotify() <-chan struct{} { return h.history().DeletionNotify() }

// The writes after the call: the fields given a session, its service
// reports, the deletion of its media. A session the SQLite store holds is
// changed there, with its outbox record, and the write returns once the
// database has it too (or after catchUpWait, the database out of reach).
// The end of a call does not wait: until the database has it, source
// reads the call from the SQLite store, and a call's end must not stall
// on the database. A session it does not hold (one another headquarters
// voter of this site held, which reached this node through the database)
// is changed in the database, and what the database wrote to its own
// outbox moves into the SQLite store's, which forwards it. So is a
// service report the database holds at a later version than the SQLite
// store, even on a session the SQLite store holds.

func (h *historyStore) SetSessionDetails(ctx context.Context, sessionID, name, goal string, v storage.Version) (bool, error) {
	return h.writeAfterCall(ctx, sessionID, func(s afterCallWriter) (bool, error) {
		return s.SetSessionDetails(ctx, sessionID, name, goal, v)
	})
}

func (h *historyStore) SetSessionOutcome(ctx context.Context, sessionID, outcome string, solvedAt *time.Time, v storage.Version) (bool, error) {
	return h.writeAfterCall(ctx, sessionID, func(s afterCallWriter) (bool, error) {
		return s.SetSessionOutcome(ctx, sessionID, outcome, solvedAt, v)
	})
}

func (h *historyStore) SetSessionNotes(ctx context.Context, sessionID, notes string, v storage.Version) (bool, error) {
	return h.writeAfterCall(ctx, sessionID, func(s afterCallWriter) (bool, error) {
		return s.SetSessionNotes(ctx, sessionID, notes, v)
	})
}

func (h *historyStore) SetSessionLabels(ctx context.Context, sessionID string, labelIDs []string, v storage.Version) (bool, error) {
	return h.writeAfterCall(ctx, sessionID, func(s afterCallWriter) (bool, error) {
		return s.SetSessionLabels(ctx, sessionID, labelIDs, v)
	})
}

// WriteServiceReport writes a version of a report where the session is,
// but for a report the database holds at a later version than the SQLite
// store (another voter wrote or edited it last, on a call this node
// held): the version that follows is the database's to check, so it is
// written there, and the write waits until the database has its record
// back from the node's outbox, as source reads the call from the SQLite
// store until then.
func (h *historyStore) WriteServiceReport(ctx context.Context, r storage.ServiceReport) error {
	write := func(s afterCallWriter) (bool, error) { return true, s.WriteServiceReport(ctx, r) }
	if h.db == nil {
		_, err := write(h.Store)
		return err
	}
	local, err := h.holds(ctx, r.SessionID)
	switch {
	case err != nil:
		return err
	case !local:
		_, err = h.writeInDB(ctx, write)
	case h.reportAheadInDB(ctx, r.OrgID, r.ID):
		if _, err = h.writeInDB(ctx, write); err == nil {
			h.catchUp(ctx)
		}
	default:
		_, err = h.writeLocal(ctx, write)
	}
	return err
}

// reportAheadInDB reports whether the history database holds report id
// at a later version than the SQLite store does.
func (h *historyStore) reportAheadInDB(ctx context.Context, orgID, id string) bool {
	inDB, err := h.db.ServiceReport(ctx, orgID, id)
	if err != nil {
		return false
	}
	here, err := h.Store.ServiceReport(ctx, orgID, id)
	return errors.Is(err, storage.ErrNotFound) || err == nil && here.Version < inDB.Version
}

func (h *historyStore) DeleteMedia(ctx context.Context, d storage.MediaDeletion, ev storage.SessionEvent, audit storage.AuditEvent) error {
	_, err := h.writeAfterCall(ctx, d.SessionID, func(s afterCallWriter) (bool, error) {
		return true, s.DeleteMedia(ctx, d, ev, audit)
	})
	return err
}

// afterCallWriter makes the writes after the call; both stores have it.
type afterCallWriter interface {
	SetSessionDetails(ctx context.Context, sessionID, name, goal string, v storage.Version) (bool, error)
	SetSessionOutcome(ctx context.Context, sessionID, outcome string, solvedAt *time.Time, v storage.Version) (bool, error)
	SetSessionNotes(ctx context.Context, sessionID, notes string, v storage.Version) (bool, error)
	SetSessionLabels(ctx context.Context, sessionID string, labelIDs []string, v storage.Version) (bool, error)
	WriteServiceReport(ctx context.Context, r storage.ServiceReport) error
	DeleteMedia(ctx context.Context, d storage.MediaDeletion, ev storage.SessionEvent, audit storage.AuditEvent) error
}

// writeAfterCall makes write, which reports whether it changed anything,
// in the store that holds session sessionID.
func (h *historyStore) writeAfterCall(ctx context.Context, sessionID string, write func(afterCallWriter) (bool, error)) (bool, error) {
	if h.db == nil {
		return write(h.Store)
	}
	local, err := h.holds(ctx, sessionID)
	if err != nil {
		return false, err
	}
	if local {
		return h.writeLocal(ctx, write)
	}
	return h.writeInDB(ctx, write)
}

// holds reports whether the SQLite store holds session id.
func (h *historyStore) holds(ctx context.Context, id string) (bool, error) {
	_, err := h.Store.Session(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// writeLocal makes write in the SQLite store and, if it changed
// anything, waits until the database has it.
func (h *historyStore) writeLocal(ctx context.Context, write func(afterCallWriter) (bool, error)) (bool, error) {
	applied, err := write(h.Store)
	if err == nil && applied {
		h.catchUp(ctx)
	}
	return applied, err
}

// writeInDB makes write in the history database and moves the records
// it added to the database's outbox into the SQLite store's.
func (h *historyStore) writeInDB(ctx context.Context, write func(afterCallWriter) (bool, error)) (bool, error) {
	applied, err := write(h.db)
	if err != nil {
		return applied, err
	}
	if err := h.moveOutbox(ctx); err != nil {
		// The change is in the database; its records move at the next
		// write or start.
		h.log.Warn("history database: move its outbox records into the node's", "err", err)
	}
	return applied, nil
}

// catchUp waits, up to catchUpWait, until the history database holds
// every record the SQLite store's outbox has now.
func (h *historyStore) catchUp(ctx context.Context) {
	if h.db == nil || h.caughtUp == nil {
		return
	}
	last, _, _, err := h.Store.HistoryCounts(ctx, 0)
	if err != nil {
		h.log.Warn("history database: read the outbox's last record", "err", err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	if err := h.caughtUp(wctx, last); err != nil {
		h.log.Warn("history database: a change is on disk here and not yet in the database; it follows when the database answers",
			"outbox_seq", last, "err", err)
	}
}

// moveOutbox moves what the history database's writes after the call
// added to its outbox into the SQLite store's, which is the node's one outbox: its
// sequence is what headquarters acknowledges. A record moved twice (a
// crash between the two steps) is added once.
func (h *historyStore) moveOutbox(ctx context.Context) error {
	h.moveMu.Lock()
	defer h.moveMu.Unlock()
	for {
		rows, err := h.db.PendingHistory(ctx, 256)
		if err != nil || len(rows) == 0 {
			return err
		}
		if _, err := h.Store.EnqueueHistory(ctx, rows); err != nil {
			return err
		}
		through, at := rows[len(rows)-1].Seq, h.now().UTC()
		if err := h.db.MarkHistoryPublished(ctx, through, at); err != nil {
			return err
		}
		if _, err := h.db.PruneHistoryOutbox(ctx, through, at.Add(time.Second)); err != nil {
			return err
		}
	}
}
