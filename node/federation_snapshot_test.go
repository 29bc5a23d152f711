package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// testSnapshotPolicy makes headquarters snapshot after a few entries and
// keep little log behind each snapshot, so a plant that was away for a
// while ("days offline") is further behind than the log reaches.
var testSnapshotPolicy = RaftSnapshotPolicy{Interval: 20 * time.Millisecond, Threshold: 16, TrailingLogs: 4}

// TestFederationSnapshotCatchUpAfterDaysOffline: a plant is stopped, the
// voters move on and compact their logs past the plant's last entry, and the
// restarted plant catches up by installing a snapshot. Afterwards its store
// is the leader's, record for record, and it logs users in and checks their
// permissions with the data it missed.
func TestFederationSnapshotCatchUpAfterDaysOffline(t *testing.T) {
	ctx := context.Background()
	snapshots := func(c *Config, o *Options) { p := testSnapshotPolicy; o.RaftSnapshots = &p }
	hq := fedNode(t, 1, "HQ 1", nil, snapshots)
	voters := []*testNode{hq}
	for i := 2; i <= 3; i++ {
		tn := fedNode(t, i, fmt.Sprintf("HQ %d", i), &JoinOptions{Server: hq.url, Token: voterToken(t, hq), Voter: true}, snapshots)
		tn.password = hq.password
		voters = append(voters, tn)
	}
	// The plant keeps its Raft address across the restart (the voters
	// know it by that address) and the default snapshot policy: any
	// snapshot it holds came from the leader.
	plantRaft := freeAddr(t, "127.0.0.11")
	plant := fedNode(t, 11, "Plant 1", &JoinOptions{Server: hq.url, Token: joinToken(t, hq)}, func(c *Config, o *Options) { c.Raft.Listen = plantRaft })
	plant.password = hq.password
	admin := hq.admin()

	// A supervisor the plant knows before it goes away.
	var early userJSON
	if code := admin.do("POST", "/api/v1/users", web.UserInput{Email: "early@acme.example", Password: "correct horse battery", Roles: []string{"regular", policy.RoleAdministrator}}, &early); code != 201 {
		t.Fatalf("create early user = %d", code)
	}
	eventually(t, 20*time.Second, "early user at the plant", func() bool { return plant.tryLogin("early@acme.example", "correct horse battery") })
	if code := plant.login("early@acme.example", "correct horse battery").do("GET", "/api/v1/users", nil, nil); code != 200 {
		t.Fatalf("early administrator lists users at the plant = %d, want 200", code)
	}

	plantCfg := plant.cfg
	offlineAt := plant.n.raft.Stats()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := plant.n.Shutdown(sctx)
	cancel()
	if err != nil {
		t.Fatalf("stop plant: %v", err)
	}

	// Meanwhile at headquarters: teams, a new administrator, and the old
	// one demoted.
	const teams = 60
	var made []storage.Team
	for i := range teams {
		var tm storage.Team
		if code := admin.do("POST", "/api/v1/teams", map[string]string{"name": fmt.Sprintf("Shift %02d", i)}, &tm); code != 201 {
			t.Fatalf("create team %d = %d", i, code)
		}
		made = append(made, tm)
	}
	if code := admin.do("POST", "/api/v1/users", web.UserInput{Email: "late@acme.example", Password: "correct horse battery", Roles: []string{"regular", policy.RoleAdministrator}}, nil); code != 201 {
		t.Fatalf("create late user = %d", code)
	}
	regular := []string{"regular"}
	if code := admin.do("PATCH", "/api/v1/users/"+early.ID, web.UserPatch{Roles: &regular}, nil); code != 200 {
		t.Fatalf("demote early user = %d", code)
	}

	// Every voter has snapshotted and dropped the log behind the plant:
	// Raft keeps TrailingLogs entries behind its newest snapshot.
	need := offlineAt.LastIndex + testSnapshotPolicy.TrailingLogs + 1
	eventually(t, 30*time.Second, "voters compact their logs past the plant", func() bool {
		for _, v := range voters {
			if snapshotIndex(t, v.cfg.DataDir) < need {
				return false
			}
		}
		return true
	})

	// The plant comes back with the configuration it had; it remembers its
	// federation.
	start := time.Now()
	back := restartNode(t, plantCfg, hq.password)
	var leader *testNode
	eventually(t, 60*time.Second, "plant catches up", func() bool {
		leader = nil
		for _, v := range voters {
			if v.n.raft.IsLeader() {
				leader = v
			}
		}
		if leader == nil {
			return false
		}
		ps, ls := back.n.raft.Stats(), leader.n.raft.Stats()
		return ps.StoreIndex == ls.StoreIndex && ps.AppliedIndex >= ls.AppliedIndex
	})
	t.Logf("plant offline from index %d caught up to %d in %s", offlineAt.LastIndex, leader.n.raft.Stats().StoreIndex, time.Since(start))
	if got := back.n.raft.Stats().SnapshotRestores; got < 1 {
		t.Errorf("plant restored %d snapshots, want it to catch up by installing one", got)
	}

	// Record for record the leader's store.
	var want, got bytes.Buffer
	if err := leader.n.store.Snapshot(ctx, &want); err != nil {
		t.Fatal(err)
	}
	if err := back.n.store.Snapshot(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.Bytes(), got.Bytes()) {
		t.Errorf("plant's store differs from the leader's after catch-up (%d and %d bytes)", got.Len(), want.Len())
	}
	for _, tm := range made {
		if _, err := back.n.store.Team(ctx, tm.ID); err != nil {
			t.Errorf("team %q missing at the plant: %v", tm.Name, err)
		}
	}

	// Logins and permission checks use what it missed: the new
	// administrator is one there, the demoted one no longer is.
	late := back.login("late@acme.example", "correct horse battery")
	if code := late.do("GET", "/api/v1/users", nil, nil); code != 200 {
		t.Errorf("new administrator lists users at the caught-up plant = %d, want 200", code)
	}
	var seen []storage.Team
	if code := late.do("GET", "/api/v1/teams", nil, &seen); code != 200 || len(seen) != teams {
		t.Errorf("teams at the caught-up plant = %d, %d teams, want 200, %d", code, len(seen), teams)
	}
	if code := back.login("early@acme.example", "correct horse battery").do("GET", "/api/v1/users", nil, nil); code != 403 {
		t.Errorf("demoted administrator lists users at the caught-up plant = %d, want 403", code)
	}
}

// restartNode starts a node again on the data directory of one stopped
// before, with no join: it remembers its federation.
func restartNode(t *testing.T, cfg Config, password string) *testNode {
	t.Helper()
	n, err := New(cfg, cheapHashes(Options{LogOutput: testutil.NewLog(t)}))
	if err != nil {
		t.Fatalf("new node %s: %v", cfg.Node.Site, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatalf("restart node %s: %v", cfg.Node.Site, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown %s: %v", cfg.Node.Site, err)
		}
	})
	return &testNode{t: t, n: n, cfg: cfg, url: n.URL(), password: password}
}

// snapshotIndex is the index of the newest Raft snapshot in a node's data
// directory (hashicorp/raft's file snapshot store: one directory per
// snapshot, its meta.json naming the last index it covers); 0 when none.
func snapshotIndex(t *testing.T, dataDir string) uint64 {
	t.Helper()
	metas, err := filepath.Glob(filepath.Join(dataDir, "raft", "snapshots", "*", "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var newest uint64
	for _, m := range metas {
		data, err := os.ReadFile(m)
		if err != nil {
			continue // being written or reaped right now
		}
		var meta struct{ Index uint64 }
		if json.Unmarshal(data, &meta) == nil {
			newest = max(newest, meta.Index)
		}
	}
	return newest
}
