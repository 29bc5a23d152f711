package federation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"siteline/cluster/pki"
	"siteline/web"
)

func prepareConfig(t *testing.T, id string) PrepareConfig {
	dir := filepath.Join(t.TempDir(), "pki")
	return PrepareConfig{
		NodeID: id, Site: "Site " + id, OrgName: "Acme", Dir: dir, Files: pki.InDir(dir),
		RaftListen: "127.0.0.1:0", Store: newFakeStore(), Logger: discard(),
	}
}

func TestPrepareFormsAFederation(t *testing.T) {
	c := prepareConfig(t, "hq-1")
	rs, err := Prepare(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Bootstrap || rs.Joined || rs.Role != pki.RoleVoter || rs.CA == nil || rs.CA.Key == nil || rs.TLS == nil || rs.Listener != nil {
		t.Errorf("setup = %+v, want a bootstrapping voter holding the CA key", rs)
	}
	// A restart keeps the CA it made.
	again, err := Prepare(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if again.CA.Fingerprint() != rs.CA.Fingerprint() {
		t.Error("a restart made a new CA")
	}
}

// joinServer serves h's membership's join endpoint over HTTP.
func joinServer(t *testing.T, h *hq) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != web.APIPrefix+"/cluster/join" {
			http.NotFound(w, r)
			return
		}
		var req web.JoinRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := h.m.Join(r.Context(), req)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(web.ErrorBody{Error: err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPrepareJoinsThroughAVoter(t *testing.T) {
	h := newHQ(t)
	srv := joinServer(t, h)
	c := prepareConfig(t, "hq-2")
	c.Join = &Join{Server: srv.URL, Token: h.mint(t, "voter"), Voter: true}
	rs, err := Prepare(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Listener.Close()
	if rs.Bootstrap || !rs.Joined || rs.FirstJoin != "org-1" || rs.JoinRole != pki.RoleVoter || rs.Role != pki.RoleVoter {
		t.Errorf("setup = %+v, want hq-2 joined org-1 as a voter", rs)
	}
	if rs.CA.Fingerprint() != h.ca.Fingerprint() || rs.CA.Key == nil {
		t.Error("the joined voter does not hold the federation's CA with its key")
	}
	store := c.Store.(*fakeStore)
	if store.meta[metaJoined] != srv.URL || store.meta["org_id"] != "org-1" || store.meta[MetaLeafURL] != "tls://hq:7422" {
		t.Errorf("meta = %v", store.meta)
	}
	want := []string{"nonvoter hq-2 " + rs.Listener.Addr().String()}
	if got := h.raft.changes(); !slices.Equal(got, want) {
		t.Errorf("voter's raft changes = %q, want %q", got, want)
	}
	// Started again, it does not join a second time.
	c.Join.Token = "spent"
	again, err := Prepare(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if again.Listener != nil || again.FirstJoin != "" || !again.Joined || again.Bootstrap {
		t.Errorf("restart after joining = %+v", again)
	}
}

func TestPrepareRefusesAnotherFederationsCA(t *testing.T) {
	h := newHQ(t)
	srv := joinServer(t, h)
	other := newHQ(t) // a token that pins another CA
	tok := other.mint(t, "plant")
	// Mint the same secret's record on h, so only the pin differs.
	for k, v := range other.store.meta {
		h.store.meta[k] = v
	}
	c := prepareConfig(t, "plant-1")
	c.Join = &Join{Server: srv.URL, Token: tok}
	_, err := Prepare(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "not the one the join token names") {
		t.Errorf("join with a token pinning another CA: %v", err)
	}
	if _, statErr := os.Stat(c.Files.Cert); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("the refused join wrote a certificate: %v", statErr)
	}
	if v, ok := c.Store.(*fakeStore).meta[metaJoined]; ok {
		t.Errorf("the refused join noted it joined %q", v)
	}
}

func TestPrepareJoinRefusedNamesTheServer(t *testing.T) {
	h := newHQ(t)
	srv := joinServer(t, h)
	c := prepareConfig(t, "plant-1")
	c.Join = &Join{Server: srv.URL, Token: otherToken(t, h)}
	_, err := Prepare(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "join federation at "+srv.URL) || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("join with an unknown token: %v", err)
	}
}

func TestAfterStartMakesAJoinedVoterVote(t *testing.T) {
	r := &fakeRaft{suffrage: "nonvoter", addr: "10.0.0.2:7000"}
	store := newFakeStore()
	store.addOrg("org-1")
	rs := Setup{Joined: true, FirstJoin: "org-1", JoinRole: pki.RoleVoter, Role: pki.RoleVoter}
	if err := AfterStart(context.Background(), rs, "hq-2", r, store, discard()); err != nil {
		t.Fatal(err)
	}
	if got := r.changes(); !slices.Equal(got, []string{"voter hq-2 10.0.0.2:7000"}) {
		t.Errorf("raft changes = %q, want hq-2 made a voter", got)
	}

	plant := &fakeRaft{suffrage: "nonvoter", addr: "10.0.1.1:7000"}
	rs = Setup{Joined: true, FirstJoin: "org-1", JoinRole: pki.RolePlant, Role: pki.RolePlant}
	if err := AfterStart(context.Background(), rs, "plant-1", plant, store, discard()); err != nil {
		t.Fatal(err)
	}
	if got := plant.changes(); len(got) != 0 {
		t.Errorf("a plant asked to vote: %q", got)
	}
}

func TestAfterStartWaitsForALeaderWhenForming(t *testing.T) {
	r := &fakeRaft{suffrage: "voter", leader: errors.New("no quorum")}
	err := AfterStart(context.Background(), Setup{Bootstrap: true, Role: pki.RoleVoter}, "hq-1", r, newFakeStore(), discard())
	if err == nil || !strings.Contains(err.Error(), "no leader elected") {
		t.Errorf("forming without a leader: %v", err)
	}
	r.leader = nil
	if err := AfterStart(context.Background(), Setup{Bootstrap: true, Role: pki.RoleVoter}, "hq-1", r, newFakeStore(), discard()); err != nil {
		t.Errorf("forming with a leader: %v", err)
	}
}

func TestAfterStartVoterLeftANonvoterServesAnyway(t *testing.T) {
	r := &fakeRaft{suffrage: "nonvoter", addr: "10.0.0.2:7000", refuse: errors.New("leader cannot reach it")}
	rs := Setup{Joined: true, Role: pki.RoleVoter}
	if err := AfterStart(context.Background(), rs, "hq-2", r, newFakeStore(), discard()); err != nil {
		t.Errorf("a voter still a non-voter does not start: %v", err)
	}
	r.refuse = nil
	if err := AfterStart(context.Background(), rs, "hq-2", r, newFakeStore(), discard()); err != nil {
		t.Fatal(err)
	}
	if got := r.changes(); !slices.Equal(got, []string{"voter hq-2 10.0.0.2:7000"}) {
		t.Errorf("raft changes = %q, want hq-2 made a voter at its restart", got)
	}
}
