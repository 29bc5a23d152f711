package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/internal/pgtest"
	"siteline/storage"
	"siteline/storage/postgres"
	"siteline/storage/sqlite"
)

// routedStores opens a node's SQLite store and a history database on a
// real PostgreSQL server, routed as a node with storage.history.driver
// postgres routes them, and a plant's SQLite store whose records the
// database applies.
func routedStores(t *testing.T) (h *historyStore, plant *sqlite.Store) {
	t.Helper()
	ctx := context.Background()
	open := func(name string) *sqlite.Store {
		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), name), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	local, plant := open("hq.db"), open("plant.db")
	db, err := postgres.Open(ctx, pgtest.DB(t), postgres.Options{Labels: local, Users: local})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h = &historyStore{Store: local, db: db, log: slog.New(slog.DiscardHandler), now: time.Now}
	// What the forwarder's OwnApplied says: the database's mark for the
	// node, hq1.
	h.ownApplied = func() int64 {
		marks, err := db.HistoryMarks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return marks["hq1"]
	}
	return h, plant
}

// forward applies every outbox record of from to the database, as a hub
// applies a plant's.
func forward(t *testing.T, from *sqlite.Store, origin string, to historyDB) {
	t.Helper()
	ctx := context.Background()
	rows, err := from.HistorySince(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]storage.HistoryMessage, len(rows))
	for i, r := range rows {
		batch[i] = storage.HistoryMessage{Origin: origin, Seq: r.Seq, Record: r.Record}
	}
	if res, err := to.ApplyHistory(ctx, batch); err != nil || len(res.Rejected) > 0 {
		t.Fatalf("apply %s's records = %+v, %v", origin, res, err)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestHistoryStoreRoutesReads: a call live at the node is read from its
// SQLite store, which has its last event before the database does; an
// ended call, and a call the node never held, from the database; a call
// neither holds is not found.
func TestHistoryStoreRoutesReads(t *testing.T) {
	h, plant := routedStores(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mustDo(t, h.Store.CreateSession(ctx, storage.Session{ID: "live", OrgID: "o1", SiteID: "hq", Name: "Boiler", CreatedBy: "u1", StartedAt: t0}))
	// The database has the call's first record only.
	forward(t, h.Store, "hq1", h.db)
	mustDo(t, h.Store.AppendSessionEvent(ctx, storage.SessionEvent{ID: "chat1", SessionID: "live", At: t0.Add(time.Second),
		Kind: storage.EventChat, ActorID: "u1", Payload: []byte(`{"text":"hello"}`)}))
	if evs, err := h.SessionEvents(ctx, "live"); err != nil || len(evs) != 1 || evs[0].ID != "chat1" {
		t.Errorf("events of the live call = %+v, %v; want the chat the database does not have yet", evs, err)
	}

	mustDo(t, plant.CreateSession(ctx, storage.Session{ID: "remote", OrgID: "o1", SiteID: "plant", Name: "Pump", CreatedBy: "u2", StartedAt: t0}))
	mustDo(t, plant.EndSession(ctx, "remote", t0.Add(time.Minute), storage.SessionEvent{ID: "remote-end", SessionID: "remote",
		At: t0.Add(time.Minute), Kind: storage.EventEnded, ActorID: "u2"}))
	forward(t, plant, "plant1", h.db)
	s, err := h.Session(ctx, "remote")
	if err != nil || s.Status != storage.SessionEnded || s.SiteID != "plant" {
		t.Errorf("the plant's call = %+v, %v; want it from the database, ended", s, err)
	}
	if evs, err := h.SessionEvents(ctx, "remote"); err != nil || len(evs) != 1 || evs[0].ID != "remote-end" {
		t.Errorf("the plant's call's events = %+v, %v", evs, err)
	}

	// Ended here and not yet in the database: the local copy, while the
	// database lags.
	mustDo(t, h.Store.EndSession(ctx, "live", t0.Add(2*time.Minute), storage.SessionEvent{ID: "live-end", SessionID: "live",
		At: t0.Add(2 * time.Minute), Kind: storage.EventEnded, ActorID: "u1"}))
	if s, err := h.Session(ctx, "live"); err != nil || s.Status != storage.SessionEnded {
		t.Errorf("the call ended a moment ago = %+v, %v", s, err)
	}
	// Once the database has it, it is read there, and the search finds it.
	forward(t, h.Store, "hq1", h.db)
	if evs, err := h.SessionEvents(ctx, "live"); err != nil || len(evs) != 2 {
		t.Errorf("events of the ended call = %+v, %v; want the chat and the end", evs, err)
	}
	page, err := h.SearchSessions(ctx, storage.SessionQuery{OrgID: "o1", Limit: 10})
	if err != nil || len(page.Sessions) != 2 {
		t.Errorf("search = %+v, %v; want both calls", page, err)
	}
	if _, err := h.Session(ctx, "nowhere"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a call neither store holds = %v, want not found", err)
	}
}

// TestHistoryStoreSetsFieldsWhereTheSessionIs: a field given a call the
// node holds is written to its SQLite store, with its outbox record; one
// given a call only the database holds (another voter's of this site) is
// written there, and its record moves into the node's outbox, once, the
// database's outbox left empty.
func TestHistoryStoreSetsFieldsWhereTheSessionIs(t *testing.T) {
	h, plant := routedStores(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mustDo(t, h.Store.CreateSession(ctx, storage.Session{ID: "mine", OrgID: "o1", SiteID: "hq", CreatedBy: "u1", StartedAt: t0}))
	mustDo(t, plant.CreateSession(ctx, storage.Session{ID: "theirs", OrgID: "o1", SiteID: "hq", CreatedBy: "u2", StartedAt: t0}))
	forward(t, plant, "hq2", h.db)
	last := func() int64 {
		n, _, _, err := h.Store.HistoryCounts(ctx, 0)
		mustDo(t, err)
		return n
	}
	before := last()

	v := storage.Version{At: t0.Add(time.Hour), Origin: "hq1"}
	if ok, err := h.SetSessionNotes(ctx, "mine", "local notes", v); err != nil || !ok {
		t.Fatalf("notes of the node's call = %v, %v", ok, err)
	}
	if ss, err := h.Store.SessionSummary(ctx, "o1", "mine"); err != nil || ss.Notes != "local notes" {
		t.Errorf("the node's call in SQLite = %+v, %v", ss, err)
	}
	if last() != before+1 {
		t.Errorf("outbox after the local change: last %d, want %d", last(), before+1)
	}

	if ok, err := h.SetSessionNotes(ctx, "theirs", "notes at hq1", v); err != nil || !ok {
		t.Fatalf("notes of the other voter's call = %v, %v", ok, err)
	}
	if ss, err := h.db.SessionSummary(ctx, "o1", "theirs"); err != nil || ss.Notes != "notes at hq1" {
		t.Errorf("the other voter's call in the database = %+v, %v", ss, err)
	}
	if _, err := h.Store.Session(ctx, "theirs"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the other voter's call reached the SQLite store: %v", err)
	}
	rows, err := h.Store.HistorySince(ctx, before+1, 10)
	if err != nil || len(rows) != 1 || rows[0].Kind != storage.HistoryFields {
		t.Fatalf("the node's outbox after the change in the database = %+v, %v; want its fields record", rows, err)
	}
	if pending, err := h.db.PendingHistory(ctx, 10); err != nil || len(pending) != 0 {
		t.Errorf("the database's outbox = %+v, %v; want it emptied into the node's", pending, err)
	}
	// A change already made changes nothing and moves nothing.
	if ok, err := h.SetSessionNotes(ctx, "theirs", "notes at hq1", v); err != nil || ok {
		t.Errorf("the same change again = %v, %v; want not applied", ok, err)
	}
	if l := last(); l != rows[0].Seq {
		t.Errorf("outbox grew to %d after a change that did not apply", l)
	}
	// The record the node forwards applies at the other voter as the
	// change itself.
	other, err := postgres.Open(ctx, pgtest.DB(t), postgres.Options{Labels: h.Store, Users: h.Store})
	mustDo(t, err)
	defer other.Close()
	forward(t, plant, "hq2", other)
	forward(t, h.Store, "hq1", other)
	if ss, err := other.SessionSummary(ctx, "o1", "theirs"); err != nil || ss.Notes != "notes at hq1" {
		t.Errorf("the change at the other voter's database = %+v, %v", ss, err)
	}
}

// TestHistoryStoreWritesReportsAndDeletionsWhereTheSessionIs: a service
// report written, and a snapshot deleted, on a call only the database
// holds (another voter's of this site) are written there, and their
// records move into the node's outbox, once each, the database's outbox
// left empty; forwarded, they apply again at this database without a
// rejection, and at another voter's as the changes themselves. A report
// on a call the node holds is written to its SQLite store.
func TestHistoryStoreWritesReportsAndDeletionsWhereTheSessionIs(t *testing.T) {
	h, plant := routedStores(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mustDo(t, h.Store.CreateSession(ctx, storage.Session{ID: "mine", OrgID: "o1", SiteID: "hq", CreatedBy: "u1", StartedAt: t0}))
	mustDo(t, plant.CreateSession(ctx, storage.Session{ID: "theirs", OrgID: "o1", SiteID: "hq", CreatedBy: "u2", StartedAt: t0}))
	key := strings.Repeat("ab", 32)
	mustDo(t, plant.AddMedia(ctx, storage.Media{ID: "m1", SessionID: "theirs", OrgID: "o1", Kind: storage.MediaSnapshot,
		BlobKey: key, SHA256: key, Size: 10, ContentType: "image/png", Name: "valve.png", CreatedBy: "u2", Participant: "p2", CreatedAt: t0},
		storage.SessionEvent{ID: "ev-m1", SessionID: "theirs", At: t0, Kind: storage.EventSnapshot, ActorID: "u2", Payload: []byte(`{"media":"m1"}`)}))
	mustDo(t, plant.EndSession(ctx, "theirs", t0.Add(time.Minute), storage.SessionEvent{ID: "theirs-end", SessionID: "theirs",
		At: t0.Add(time.Minute), Kind: storage.EventEnded, ActorID: "u2"}))
	forward(t, plant, "hq2", h.db)
	last := func() int64 {
		n, _, _, err := h.Store.HistoryCounts(ctx, 0)
		mustDo(t, err)
		return n
	}
	before := last()

	report := func(id, sessionID string) storage.ServiceReport {
		return storage.ServiceReport{ID: id, VersionID: id + "-v1", OrgID: "o1", SiteID: "hq", SessionID: sessionID, Version: 1,
			Fields: map[string]string{"asset": "Valve 3"}, Body: "Seat replaced", CreatedBy: "u1", CreatedAt: t0.Add(time.Hour),
			EditedBy: "u1", EditedAt: t0.Add(time.Hour), Origin: "hq1"}
	}
	mustDo(t, h.WriteServiceReport(ctx, report("r-mine", "mine")))
	if _, err := h.Store.ServiceReport(ctx, "o1", "r-mine"); err != nil {
		t.Errorf("the report on the node's call in SQLite: %v", err)
	}
	if last() != before+1 {
		t.Errorf("outbox after the local report: last %d, want %d", last(), before+1)
	}
	before = last()

	mustDo(t, h.WriteServiceReport(ctx, report("r-theirs", "theirs")))
	at := t0.Add(2 * time.Hour)
	d := storage.MediaDeletion{What: storage.DeletedMedia, ID: "m1", SessionID: "theirs", OrgID: "o1", Kind: storage.MediaSnapshot,
		Name: "valve.png", SHA256: key, At: at, By: "u1", ByName: "One"}
	ev := storage.SessionEvent{ID: "del-m1", SessionID: "theirs", At: at, Kind: storage.EventMediaDeleted, ActorID: "u1",
		Payload: []byte(`{"media":"m1"}`)}
	audit := storage.AuditEvent{ID: "audit-del-m1", OrgID: "o1", SiteID: "hq", At: at, ActorID: "u1", Action: "media.delete", Target: "m1"}
	mustDo(t, h.DeleteMedia(ctx, d, ev, audit))

	if r, err := h.db.ServiceReport(ctx, "o1", "r-theirs"); err != nil || r.VersionID != "r-theirs-v1" {
		t.Errorf("the report on the other voter's call in the database = %+v, %v", r, err)
	}
	if m, err := h.db.Media(ctx, "m1"); err != nil || m.DeletedAt == nil {
		t.Errorf("the snapshot in the database = %+v, %v; want it deleted", m, err)
	}
	for _, err := range []error{
		func() error { _, err := h.Store.Session(ctx, "theirs"); return err }(),
		func() error { _, err := h.Store.ServiceReport(ctx, "o1", "r-theirs"); return err }(),
	} {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the other voter's call reached the SQLite store: %v", err)
		}
	}
	rows, err := h.Store.HistorySince(ctx, before, 10)
	mustDo(t, err)
	var moved []string
	for _, r := range rows {
		moved = append(moved, r.Kind+" "+r.ID)
	}
	want := []string{storage.HistoryServiceReport + " r-theirs-v1", storage.HistoryMediaDeleted + " del-m1", storage.HistoryAudit + " audit-del-m1"}
	if !slices.Equal(moved, want) {
		t.Errorf("the node's outbox after the writes in the database = %q, want %q", moved, want)
	}
	if pending, err := h.db.PendingHistory(ctx, 10); err != nil || len(pending) != 0 {
		t.Errorf("the database's outbox = %+v, %v; want it emptied into the node's", pending, err)
	}
	// Moving again (the next write, a restart) moves nothing twice.
	mustDo(t, h.moveOutbox(ctx))
	if l := last(); l != before+int64(len(want)) {
		t.Errorf("outbox at %d after moving again, want %d", l, before+int64(len(want)))
	}

	// A deletion already made, a report created twice and a call
	// neither store holds are refused as the database refuses them.
	if err := h.DeleteMedia(ctx, d, ev, audit); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("the snapshot deleted again = %v, want a conflict", err)
	}
	if err := h.WriteServiceReport(ctx, report("r-theirs", "theirs")); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("the report created again = %v, want a conflict", err)
	}
	if err := h.WriteServiceReport(ctx, report("r-nowhere", "nowhere")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a report on a call neither store holds = %v, want not found", err)
	}
	if l := last(); l != before+int64(len(want)) {
		t.Errorf("outbox grew to %d after refused writes", l)
	}

	// The node's records apply again at its own database, changing
	// nothing, and at the other voter's database as the changes.
	forward(t, h.Store, "hq1", h.db)
	other, err := postgres.Open(ctx, pgtest.DB(t), postgres.Options{Labels: h.Store, Users: h.Store})
	mustDo(t, err)
	defer other.Close()
	forward(t, plant, "hq2", other)
	forward(t, h.Store, "hq1", other)
	for _, db := range []historyDB{h.db, other} {
		if rs, err := db.SessionServiceReports(ctx, "o1", "theirs"); err != nil || len(rs) != 1 || rs[0].VersionID != "r-theirs-v1" {
			t.Errorf("reports of the other voter's call = %+v, %v", rs, err)
		}
		if ds, err := db.SessionDeletions(ctx, "theirs"); err != nil || len(ds) != 1 || ds[0].ID != "m1" {
			t.Errorf("deletions of the other voter's call = %+v, %v", ds, err)
		}
		if evs, err := db.SessionEvents(ctx, "theirs"); err != nil || len(evs) != 3 || evs[2].ID != "del-m1" {
			t.Errorf("events of the other voter's call = %+v, %v; want the snapshot, the end and the deletion", evs, err)
		}
	}
}

// TestHistoryStoreEditsAReportWhereItsVersionIs: on a call the node
// holds, a report another voter wrote in the database is edited there,
// its record moved into the node's outbox, and the edit after that too;
// a report written at the node is edited in its SQLite store.
func TestHistoryStoreEditsAReportWhereItsVersionIs(t *testing.T) {
	h, _ := routedStores(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mustDo(t, h.Store.CreateSession(ctx, storage.Session{ID: "mine", OrgID: "o1", SiteID: "hq", CreatedBy: "u1", StartedAt: t0}))
	forward(t, h.Store, "hq1", h.db)
	version := func(id string, v int, origin string) storage.ServiceReport {
		at := t0.Add(time.Duration(v) * time.Hour)
		return storage.ServiceReport{ID: id, VersionID: fmt.Sprintf("%s-v%d", id, v), OrgID: "o1", SiteID: "hq", SessionID: "mine",
			Version: v, Body: fmt.Sprintf("text %d", v), CreatedBy: "u1", CreatedAt: t0, EditedBy: "u1", EditedAt: at, Origin: origin}
	}
	// Written at hq2, in the database they share.
	mustDo(t, h.db.WriteServiceReport(ctx, version("theirs", 1, "hq2")))
	mustDo(t, h.moveOutbox(ctx)) // hq2's record, as hq2 would take it; gone from the shared outbox
	before, _, _, err := h.Store.HistoryCounts(ctx, 0)
	mustDo(t, err)

	for v := 2; v <= 3; v++ {
		mustDo(t, h.WriteServiceReport(ctx, version("theirs", v, "hq1")))
		if r, err := h.db.ServiceReport(ctx, "o1", "theirs"); err != nil || r.Version != v {
			t.Errorf("the report in the database after version %d = %+v, %v", v, r, err)
		}
	}
	if _, err := h.Store.ServiceReport(ctx, "o1", "theirs"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the other voter's report reached the SQLite store: %v", err)
	}
	rows, err := h.Store.HistorySince(ctx, before, 10)
	mustDo(t, err)
	var moved []string
	for _, r := range rows {
		moved = append(moved, r.ID)
	}
	if want := []string{"theirs-v2", "theirs-v3"}; !slices.Equal(moved, want) {
		t.Errorf("the node's outbox after the edits = %q, want %q", moved, want)
	}
	if err := h.WriteServiceReport(ctx, version("theirs", 3, "hq1")); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("a version taken = %v, want a conflict", err)
	}

	for v := 1; v <= 2; v++ {
		mustDo(t, h.WriteServiceReport(ctx, version("ours", v, "hq1")))
	}
	if r, err := h.Store.ServiceReport(ctx, "o1", "ours"); err != nil || r.Version != 2 {
		t.Errorf("the node's report in SQLite = %+v, %v; want version 2", r, err)
	}
	if _, err := h.db.ServiceReport(ctx, "o1", "ours"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the node's report is in the database before it was forwarded: %v", err)
	}
}

// TestHistoryStoreBlobLiveInEither: a blob stays while a live row of
// either store refers to it.
func TestHistoryStoreBlobLiveInEither(t *testing.T) {
	h, _ := routedStores(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mustDo(t, h.Store.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "hq", CreatedBy: "u1", StartedAt: t0}))
	key := strings.Repeat("ab", 32)
	mustDo(t, h.Store.AddMedia(ctx, storage.Media{ID: "m1", SessionID: "c1", OrgID: "o1", Kind: storage.MediaFile,
		BlobKey: key, SHA256: key, Size: 10, ContentType: "application/pdf", Name: "manual.pdf", CreatedBy: "u1", Participant: "p1", CreatedAt: t0},
		storage.SessionEvent{ID: "ev-m1", SessionID: "c1", At: t0, Kind: storage.EventFile, ActorID: "u1", Payload: []byte(`{"media":"m1"}`)}))
	if live, err := h.MediaBlobLive(ctx, key); err != nil || !live {
		t.Errorf("a blob only the SQLite store's row refers to: live %v, %v", live, err)
	}
	if live, err := h.db.MediaBlobLive(ctx, key); err != nil || live {
		t.Fatalf("the database knows the blob before it was forwarded: %v, %v", live, err)
	}
	forward(t, h.Store, "hq1", h.db)
	if live, err := h.db.MediaBlobLive(ctx, key); err != nil || !live {
		t.Errorf("the database after the forward: live %v, %v", live, err)
	}
	if live, err := h.MediaBlobLive(ctx, strings.Repeat("cd", 32)); err != nil || live {
		t.Errorf("a blob no row refers to: live %v, %v", live, err)
	}
}
