package attachments

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/policy"
	"siteline/storage"
	"siteline/storage/blob"
	"siteline/storage/sqlite"
	"siteline/web"
)

var t0 = time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)

// authz grants each user the permissions listed.
type authz map[string][]string

func (a authz) Check(_, userID, permission string) error {
	for _, p := range a[userID] {
		if p == permission {
			return nil
		}
	}
	return &storage.ForbiddenError{Permission: permission}
}

// room is a call's participants now.
type room map[string]sfu.ParticipantInfo

func (r room) Participants() []string {
	ids := make([]string, 0, len(r))
	for id := range r {
		ids = append(ids, id)
	}
	return ids
}

func (r room) Participant(id string) (sfu.ParticipantInfo, bool) { p, ok := r[id]; return p, ok }

// calls answers for the calls in the store, with rooms set by the test,
// and keeps what was broadcast.
type calls struct {
	store *sqlite.Store
	rooms map[string]room

	mu   sync.Mutex
	told []signal.Message
}

func (c *calls) OpenCall(ctx context.Context, _ web.Actor, id string) (storage.Session, error) {
	s, err := c.store.Session(ctx, id)
	if err == nil && s.Status == storage.SessionEnded {
		err = storage.ErrConflict
	}
	return s, err
}

func (c *calls) Room(callID string) (Room, error) {
	if r, ok := c.rooms[callID]; ok {
		return r, nil
	}
	return nil, nil
}

func (c *calls) Broadcast(_ string, m signal.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.told = append(c.told, m)
}

// opener opens this node's blobs only.
type opener struct{ fs *blob.FS }

func (o opener) Open(_ context.Context, key, _ string, _ int64) (blob.Object, error) {
	return o.fs.Open(key)
}

type fixture struct {
	svc   *Service
	store *sqlite.Store
	blobs *blob.FS
	calls *calls
}

var (
	owner   = web.Actor{UserID: "u-owner", OrgID: "o1"}
	member  = web.Actor{UserID: "u-member", OrgID: "o1"}
	auditor = web.Actor{UserID: "u-auditor", OrgID: "o1"}
	keeper  = web.Actor{UserID: "u-keeper", OrgID: "o1"}
	nobody  = web.Actor{UserID: "u-nobody", OrgID: "o1"}
	alien   = web.Actor{UserID: "u-alien", OrgID: "o2"}
	cleaner = web.Actor{UserID: "u-cleaner", OrgID: "o1", Name: "Cleo"}
	guest   = web.Actor{UserID: web.GuestIDPrefix + "g1", OrgID: "o1", CallID: "c1", Grants: []string{policy.CallShareFiles}}
	stray   = web.Actor{UserID: web.GuestIDPrefix + "g2", OrgID: "o1", CallID: "c2", Grants: []string{policy.CallShareFiles}}
	local   = web.Actor{Local: true}
)

// newFixture makes call c1 of o1, started by owner, with member in it
// now and a file and a recording; calls c2 of o1 and c3 of o2 are empty.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "siteline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blob.OpenFS(filepath.Join(dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []storage.Session{
		{ID: "c1", OrgID: "o1", SiteID: "s1", Kind: storage.SessionConference, Status: storage.SessionActive, CreatedBy: owner.UserID, StartedAt: t0},
		{ID: "c2", OrgID: "o1", SiteID: "s1", Kind: storage.SessionConference, Status: storage.SessionActive, CreatedBy: nobody.UserID, StartedAt: t0},
		{ID: "c3", OrgID: "o2", SiteID: "s2", Kind: storage.SessionConference, Status: storage.SessionActive, CreatedBy: alien.UserID, StartedAt: t0},
	} {
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	join := storage.SessionParticipant{ID: "p-member", SessionID: "c1", UserID: member.UserID, DisplayName: "Mia", JoinedAt: t0}
	if err := st.RecordJoin(ctx, join, storage.SessionEvent{ID: "e-join", SessionID: "c1", At: t0, Kind: storage.EventJoined, ActorID: member.UserID}); err != nil {
		t.Fatal(err)
	}
	c := &calls{store: st, rooms: map[string]room{"c1": {
		"p-member": {ID: "p-member", UserID: member.UserID, Name: "Mia"},
		"p-guest":  {ID: "p-guest", UserID: guest.UserID, Name: "Gina"},
		"p-owner1": {ID: "p-owner1", UserID: owner.UserID, Name: "Olga"},
		"p-owner2": {ID: "p-owner2", UserID: owner.UserID, Name: "Olga"},
	}}}
	f := &fixture{store: st, blobs: blobs, calls: c}
	f.svc = New(Deps{Store: st, Blobs: blobs, Open: opener{blobs}, Calls: c, MaxUpload: 1 << 10,
		Now: func() time.Time { return t0.Add(time.Minute) },
		Authz: authz{
			auditor.UserID: {policy.SeeAllCallLogs},
			keeper.UserID:  {policy.SeeAllCallLogs, policy.DownloadMedia, policy.CallShareFiles},
			member.UserID:  {policy.CallShareFiles, policy.CallSnapshotAnnotate},
			owner.UserID:   {policy.CallShareFiles},
			cleaner.UserID: {policy.SeeAllCallLogs, policy.DeleteMedia},
			alien.UserID:   {policy.DeleteMedia},
			nobody.UserID:  {policy.DeleteMedia},
		}, SiteID: "s1"})
	return f
}

func (f *fixture) upload(t *testing.T, a web.Actor, in web.MediaUpload) storage.Media {
	t.Helper()
	m, err := f.svc.AddMedia(context.Background(), a, "c1", in)
	if err != nil {
		t.Fatalf("upload by %s: %v", a.UserID, err)
	}
	return m
}

func file(name, body string) web.MediaUpload {
	return web.MediaUpload{Name: name, Body: strings.NewReader(body), Size: -1}
}

func TestReadPermissions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.upload(t, member, file("notes.txt", "the press jams at 7"))
	forbidden := func(perm string) func(error) bool {
		return func(err error) bool {
			var fe *storage.ForbiddenError
			return errors.As(err, &fe) && fe.Permission == perm
		}
	}
	ok := func(err error) bool { return err == nil }
	notFound := func(err error) bool { return errors.Is(err, storage.ErrNotFound) }
	for _, tc := range []struct {
		who        string
		a          web.Actor
		list, open func(error) bool
	}{
		{"participant", member, ok, ok},
		{"owner", owner, ok, ok},
		{"local operator", local, ok, ok},
		{"see-all", auditor, ok, forbidden(policy.DownloadMedia)},
		{"see-all and download", keeper, ok, ok},
		{"neither", nobody, forbidden(policy.SeeAllCallLogs), forbidden(policy.SeeAllCallLogs)},
		{"another organisation", alien, notFound, notFound},
		{"guest of the call", guest, ok, ok},
		{"guest of another call", stray, forbidden(policy.OutsideTheCall), forbidden(policy.OutsideTheCall)},
	} {
		t.Run(tc.who, func(t *testing.T) {
			list, err := f.svc.SessionMedia(ctx, tc.a, "c1")
			if !tc.list(err) {
				t.Fatalf("list = %v", err)
			}
			if err == nil && (len(list) != 1 || list[0].ID != m.ID) {
				t.Fatalf("list = %+v", list)
			}
			if _, err := f.svc.SessionDetail(ctx, tc.a, "c1"); !tc.list(err) {
				t.Fatalf("detail = %v", err)
			}
			got, b, err := f.svc.OpenMedia(ctx, tc.a, m.ID)
			if !tc.open(err) {
				t.Fatalf("open = %v", err)
			}
			if err == nil {
				defer b.Close()
				data := make([]byte, got.Size)
				if _, err := b.ReadAt(data, 0); err != nil || string(data) != "the press jams at 7" {
					t.Fatalf("bytes = %q, %v", data, err)
				}
			}
		})
	}
}

func TestUnknownIDs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.OpenMedia(ctx, member, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown media = %v, want not found", err)
	}
	if _, _, err := f.svc.OpenRecording(ctx, member, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown recording = %v, want not found", err)
	}
	if _, err := f.svc.SessionRecordings(ctx, member, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("recordings of an unknown session = %v, want not found", err)
	}
	// A guest is not told whether what lies outside the call exists.
	var fe *storage.ForbiddenError
	if _, _, err := f.svc.OpenMedia(ctx, guest, "nope"); !errors.As(err, &fe) || fe.Permission != policy.OutsideTheCall {
		t.Fatalf("unknown media for a guest = %v", err)
	}
	if _, err := f.svc.SessionMedia(ctx, guest, "nope"); !errors.As(err, &fe) || fe.Permission != policy.OutsideTheCall {
		t.Fatalf("unknown session for a guest = %v", err)
	}
	if _, err := f.svc.AddMedia(ctx, member, "nope", file("a.txt", "x")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("upload to an unknown call = %v", err)
	}
}

func TestAddMediaStoresThenAnnounces(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.upload(t, member, file("C:\\Users\\mia\\notes.txt", "the press jams at 7"))
	if m.Name != "notes.txt" || m.ContentType != "text/plain; charset=utf-8" || m.Participant != "p-member" || m.CreatedBy != member.UserID || m.Size != 19 {
		t.Fatalf("media = %+v", m)
	}
	if !f.blobs.Has(m.BlobKey) {
		t.Fatal("bytes not in the blob store")
	}
	evs, err := f.store.SessionEvents(ctx, "c1")
	if err != nil || len(evs) != 2 || evs[1].Kind != storage.EventFile || !strings.Contains(string(evs[1].Payload), m.ID) {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	if len(f.calls.told) != 1 || f.calls.told[0].Media == nil || f.calls.told[0].Media.ID != m.ID || f.calls.told[0].Media.URL != web.MediaURL(m.ID) {
		t.Fatalf("told = %+v", f.calls.told)
	}
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 20)
	snap := f.upload(t, member, web.MediaUpload{Kind: storage.MediaSnapshot, Of: "p-member", Body: strings.NewReader(png),
		Annotations: []byte(`{"strokes":[]}`)})
	if snap.ContentType != "image/png" || snap.Name != "Snapshot 2030-03-04 09.01.00.png" || snap.Of != "p-member" {
		t.Fatalf("snapshot = %+v", snap)
	}
	// A guest with the grant shares too.
	if g := f.upload(t, guest, file("", "from the guest")); g.Participant != "p-guest" || !strings.HasPrefix(g.Name, "File 2030-03-04 09.01.00") {
		t.Fatalf("guest's file = %+v", g)
	}
}

func TestAddMediaRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 20)
	isInvalid := func(err error) bool { return errors.Is(err, storage.ErrInvalid) }
	status := func(code int) func(error) bool {
		return func(err error) bool { var e *web.Error; return errors.As(err, &e) && e.Status == code }
	}
	forbidden := func(perm string) func(error) bool {
		return func(err error) bool {
			var fe *storage.ForbiddenError
			return errors.As(err, &fe) && fe.Permission == perm
		}
	}
	for _, tc := range []struct {
		name   string
		a      web.Actor
		callID string
		in     web.MediaUpload
		want   func(error) bool
	}{
		{"oversized", member, "c1", file("big.bin", strings.Repeat("x", 1<<10+1)), status(413)},
		{"empty", member, "c1", file("empty.txt", ""), isInvalid},
		{"unknown kind", member, "c1", web.MediaUpload{Kind: "video", Body: strings.NewReader("x")}, isInvalid},
		{"snapshot that is no image", member, "c1", web.MediaUpload{Kind: storage.MediaSnapshot, Body: strings.NewReader("GIF89a")}, isInvalid},
		{"snapshot declared gif", member, "c1", web.MediaUpload{Kind: storage.MediaSnapshot, ContentType: "image/gif", Body: strings.NewReader(png)}, isInvalid},
		{"snapshot of a stranger", member, "c1", web.MediaUpload{Kind: storage.MediaSnapshot, Of: "p-x", Body: strings.NewReader(png)}, isInvalid},
		{"annotations on a file", member, "c1", web.MediaUpload{Annotations: []byte(`{}`), Body: strings.NewReader("x")}, isInvalid},
		{"bidi name", member, "c1", file("evil\u202efdp.exe", "x"), isInvalid},
		{"without the permission", auditor, "c1", file("a.txt", "x"), forbidden(policy.CallShareFiles)},
		{"snapshot without the permission", owner, "c1", web.MediaUpload{Kind: storage.MediaSnapshot, Body: strings.NewReader(png)}, forbidden(policy.CallSnapshotAnnotate)},
		{"not in the call", keeper, "c1", file("a.txt", "x"), func(err error) bool { return errors.Is(err, storage.ErrConflict) }},
		{"in the call twice", owner, "c1", file("a.txt", "x"), isInvalid},
		{"someone else's participant", member, "c1", web.MediaUpload{Participant: "p-guest", Body: strings.NewReader("x")}, status(403)},
		{"guest of another call", stray, "c1", file("a.txt", "x"), forbidden(policy.CallShareFiles)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Size = -1
			if _, err := f.svc.AddMedia(ctx, tc.a, tc.callID, tc.in); !tc.want(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	// Nothing was kept: no row, no event, no bytes, nobody told.
	if list, err := f.svc.SessionMedia(ctx, local, "c1"); err != nil || len(list) != 0 {
		t.Fatalf("media after refusals = %+v, %v", list, err)
	}
	entries, err := os.ReadDir(f.blobs.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			t.Errorf("file %s left in the blob store", e.Name())
		}
	}
	if len(f.calls.told) != 0 {
		t.Fatalf("told = %+v", f.calls.told)
	}
}
