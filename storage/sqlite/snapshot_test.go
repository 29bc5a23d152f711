package sqlite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

// addSiteData writes one record of each kind of site data, which Restore
// must leave alone.
func addSiteData(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.AppendAudit(ctx, storage.AuditEvent{ID: "a1", OrgID: "o1", At: t0, ActorID: "u1", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebSession(ctx, storage.WebSession{ID: "ws1", UserID: "u1", OrgID: "o1", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "node.id", "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.Exec("INSERT INTO sessions (id, org_id, site_id, started_at) VALUES ('call1', 'o1', 's1', 1)"); err != nil {
		t.Fatal(err)
	}
}

func checkSiteData(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	if ev, err := s.Audit(ctx, storage.AuditFilter{}); err != nil || len(ev) != 1 {
		t.Errorf("audit events: %v, %v", ev, err)
	}
	if _, err := s.WebSession(ctx, "ws1"); err != nil {
		t.Errorf("web session: %v", err)
	}
	if v, err := s.Meta(ctx, "node.id"); err != nil || v != "n1" {
		t.Errorf("meta: %q, %v", v, err)
	}
	var n int
	if err := s.read.QueryRow("SELECT count(*) FROM sessions").Scan(&n); err != nil || n != 1 {
		t.Errorf("sessions: %d, %v", n, err)
	}
}

func TestSnapshotRestore(t *testing.T) {
	ctx := context.Background()
	src, _ := openTestStore(t)
	mustApply(t, src, 1, seed())
	mustApply(t, src, 9, cmd(storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: "u4", OrgID: "o2",
		Email: "dan@bolt.test", Name: "Dan", Kind: storage.UserGuestApp}, PasswordHash: "$argon2id$dan"}))
	if _, err := src.write.Exec("INSERT INTO user_labels (user_id, label_id) VALUES ('u1', 'l1')"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.Snapshot(ctx, &buf); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if !strings.Contains(buf.String(), `"applied_index":9`) || !strings.Contains(buf.String(), `"version":1`) {
		t.Errorf("snapshot header missing: %.200s", buf.String())
	}

	// The destination holds other organisation data, which must go, and
	// site data, which must stay.
	dst, _ := openTestStore(t)
	mustApply(t, dst, 30, cmd(
		storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "old", Name: "Old"}},
		storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: "u1", OrgID: "old", Email: "x@old.test"}},
	))
	addSiteData(t, dst)

	if err := dst.Restore(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	sameView(t, viewOf(t, dst), viewOf(t, src))
	if _, err := dst.Org(ctx, "old"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("org data from before Restore remains: %v", err)
	}
	if u, _ := dst.User(ctx, "u4"); u.PasswordHash != "$argon2id$dan" {
		t.Errorf("password hash not restored: %q", u.PasswordHash)
	}
	if tok, err := dst.TokenByHash(ctx, hashOf("secret-1")); err != nil || tok.ID != "k1" {
		t.Errorf("token hash not restored: %+v, %v", tok, err)
	}
	var n int
	if err := dst.read.QueryRow("SELECT count(*) FROM user_labels").Scan(&n); err != nil || n != 1 {
		t.Errorf("user labels restored: %d, %v", n, err)
	}
	checkSiteData(t, dst)

	// A second snapshot of the restored store is the same document.
	var again bytes.Buffer
	if err := dst.Snapshot(ctx, &again); err != nil {
		t.Fatal(err)
	}
	if again.String() != buf.String() {
		t.Errorf("snapshot after restore differs:\n%s\n%s", again.String(), buf.String())
	}
	// Applying continues from the restored index.
	if err := dst.Apply(ctx, 9, cmd(storage.Change{Op: storage.OpDeleteUser, ID: "u1"})); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.User(ctx, "u1"); err != nil {
		t.Errorf("a command at the restored index was applied: %v", err)
	}
}

func TestRestoreRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	src, _ := openTestStore(t)
	mustApply(t, src, 3, seed())
	var good bytes.Buffer
	if err := src.Snapshot(ctx, &good); err != nil {
		t.Fatal(err)
	}
	edited := func(edit func(map[string]any)) string {
		var d map[string]any
		if err := json.Unmarshal(good.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		edit(d)
		out, _ := json.Marshal(d)
		return string(out)
	}

	tests := []struct {
		name string
		doc  string
		says string
	}{
		{"empty", "", "not a snapshot"},
		{"garbage", "\x00\x01 not json", "not a snapshot"},
		{"other json", `{"hello": "world"}`, "format"},
		{"unknown version", edited(func(d map[string]any) { d["version"] = 99 }), "version 99 is not supported"},
		{"truncated", good.String()[:good.Len()/2], "not a snapshot"},
		{"dangling reference", edited(func(d map[string]any) {
			d["team_memberships"] = append(d["team_memberships"].([]any), map[string]any{"team_id": "nope", "user_id": "u1", "role": "member"})
		}), "team nope"},
		{"duplicate e-mail", edited(func(d map[string]any) {
			d["users"] = append(d["users"].([]any), map[string]any{"id": "dup", "org_id": "o1", "email": "alice@acme.test"})
		}), "already used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst, _ := openTestStore(t)
			mustApply(t, dst, 30, cmd(storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "keep", Name: "Keep"}}))
			addSiteData(t, dst)
			before := viewOf(t, dst)

			err := dst.Restore(ctx, strings.NewReader(tt.doc))
			if err == nil {
				t.Fatal("Restore accepted a bad document")
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			sameView(t, viewOf(t, dst), before)
			checkSiteData(t, dst)
		})
	}
}

// The snapshot is read in one transaction: every document seen while a
// writer adds one user per command holds exactly as many users as its
// applied index says.
func TestSnapshotIsConsistent(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	mustApply(t, s, 1, seed())
	const base, commands = 4, 40 // seed has 4 users

	done := make(chan error, 1)
	go func() {
		for i := range commands {
			id := "w" + strconv.Itoa(i)
			c := cmd(storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: id, OrgID: "o1", Email: id + "@acme.test", Name: id}})
			if err := s.Apply(ctx, uint64(2+i), c); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		var buf bytes.Buffer
		if err := s.Snapshot(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		var snap snapshotV1
		if err := json.Unmarshal(buf.Bytes(), &snap); err != nil {
			t.Fatal(err)
		}
		if want := base + int(snap.AppliedIndex-1); len(snap.Users) != want {
			t.Fatalf("snapshot at index %d holds %d users, want %d", snap.AppliedIndex, len(snap.Users), want)
		}
	}
}
