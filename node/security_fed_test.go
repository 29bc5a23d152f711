package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/cluster/pki"
	"siteline/storage"
	"siteline/web"
)

// mintJoinToken mints a join token for role (voter or plant) on hq.
func mintJoinToken(t testing.TB, hq *testNode, role string) string {
	t.Helper()
	var tok struct {
		web.JoinToken
		Role string `json:"role"`
	}
	if st := hq.admin().do("POST", "/api/v1/cluster/tokens", map[string]string{"ttl": "10m", "role": role}, &tok); st != 201 || tok.Token == "" {
		t.Fatalf("mint %s join token = %d %+v", role, st, tok)
	}
	if tok.Role != role {
		t.Fatalf("minted token's role = %q, want %q", tok.Role, role)
	}
	return tok.Token
}

// voterToken mints a token that admits a headquarters voter.
func voterToken(t testing.TB, hq *testNode) string { return mintJoinToken(t, hq, "voter") }

// certURIs are the URI names of the node's own certificate.
func certURIs(t *testing.T, tn *testNode) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tn.cfg.DataDir, "pki", pki.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range cert.URIs {
		out = append(out, u.String())
	}
	return out
}

// rawJoin redeems token at hq for a node that is not started, as any
// holder of a token could; it returns the status and the answer.
func rawJoin(t *testing.T, hq *testNode, token, id, raftAddr string, voter bool) (int, web.JoinResponse) {
	t.Helper()
	_, csr, err := pki.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	var resp web.JoinResponse
	code := hq.anon().do("POST", "/api/v1/cluster/join", web.JoinRequest{Token: token, NodeID: id, RaftAddr: raftAddr, Site: id, Voter: voter, CSR: string(csr)}, &resp)
	return code, resp
}

func serverIDs(t *testing.T, tn *testNode) map[string]bool {
	t.Helper()
	srvs, err := tn.n.raft.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range srvs {
		out[s.ID] = s.Voter
	}
	return out
}

// Item 11: the token, not the joiner, decides the role; a plant never gets
// the CA key; certificates name their role.
func TestFedJoinTokenFixesRole(t *testing.T) {
	hq := fedNode(t, 1, "HQ 1", nil, nil)

	// A plant token redeemed by a joiner that asks to be a voter is refused
	// and changes nothing.
	code, resp := rawJoin(t, hq, mintJoinToken(t, hq, "plant"), "greedy", freeAddr(t, "127.0.0.5"), true)
	if code != 400 || resp.CAKey != "" || resp.Cert != "" {
		t.Fatalf("voter join with a plant token = %d (CA key given: %v), want 400 and nothing", code, resp.CAKey != "")
	}
	if ids := serverIDs(t, hq); len(ids) != 1 {
		t.Fatalf("refused join changed the membership: %v", ids)
	}

	// A plant joins with a plant token: no CA key, a plant certificate.
	plant := fedNode(t, 11, "Plant 1", &JoinOptions{Server: hq.url, Token: mintJoinToken(t, hq, "plant")}, nil)
	if _, err := os.Stat(filepath.Join(plant.cfg.DataDir, "pki", pki.CAKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plant holds the federation CA key (stat: %v)", err)
	}
	if uris := certURIs(t, plant); len(uris) != 1 || uris[0] != "siteline:role:plant" {
		t.Errorf("plant certificate names %v, want [siteline:role:plant]", uris)
	}
	// A voter token makes a voter, whatever the joiner asked for.
	hq2 := fedNode(t, 2, "HQ 2", &JoinOptions{Server: hq.url, Token: voterToken(t, hq)}, nil)
	if _, err := os.Stat(filepath.Join(hq2.cfg.DataDir, "pki", pki.CAKeyFile)); err != nil {
		t.Errorf("voter lacks the CA key: %v", err)
	}
	if uris := certURIs(t, hq2); len(uris) != 1 || uris[0] != "siteline:role:voter" {
		t.Errorf("voter certificate names %v, want [siteline:role:voter]", uris)
	}
	if uris := certURIs(t, hq); len(uris) != 1 || uris[0] != "siteline:role:voter" {
		t.Errorf("first node's certificate names %v, want [siteline:role:voter]", uris)
	}
	ids := serverIDs(t, hq)
	if !ids[hq2.n.nodeID] || ids[plant.n.nodeID] {
		t.Errorf("membership = %v, want %s voter and %s non-voter", ids, hq2.n.nodeID, plant.n.nodeID)
	}

	// A token for an unknown role is refused.
	if st := hq.admin().do("POST", "/api/v1/cluster/tokens", map[string]string{"role": "king"}, nil); st != 400 {
		t.Errorf("mint token for role king = %d, want 400", st)
	}
}

// Item 11: a node id already in the federation cannot join again (it would
// get a certificate in that node's name and move its address).
func TestFedJoinRefusesDuplicateNodeID(t *testing.T) {
	nodes := startFederation(t, 1, 1, nil)
	hq, plant := nodes[0], nodes[1]
	before, _ := hq.n.membership.Server(context.Background(), plant.n.nodeID)
	for _, id := range []string{plant.n.nodeID, hq.n.nodeID} {
		code, resp := rawJoin(t, hq, mintJoinToken(t, hq, "plant"), id, freeAddr(t, "127.0.0.6"), false)
		if code != 409 || resp.Cert != "" {
			t.Errorf("join as existing node %s = %d (certificate given: %v), want 409", id, code, resp.Cert != "")
		}
	}
	after, _ := hq.n.membership.Server(context.Background(), plant.n.nodeID)
	if after != before {
		t.Errorf("plant's entry changed from %+v to %+v", before, after)
	}
}

// Item 11: a voter that cannot be reached is not added as a voter, so it
// cannot cost headquarters its quorum.
func TestFedUnreachableVoterIsNotAdded(t *testing.T) {
	hq := fedNode(t, 1, "HQ 1", nil, nil)
	dead := freeAddr(t, "127.0.0.7")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	err := hq.n.raft.AddVoter(ctx, "ghost", dead)
	if err == nil || !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "cannot be reached") {
		t.Errorf("AddVoter at a dead address = %v, want a refusal saying it cannot be reached", err)
	}
	// Redeeming a voter token for a dead address adds no voter either.
	if code, _ := rawJoin(t, hq, voterToken(t, hq), "ghost2", dead, true); code != 200 {
		t.Errorf("join of a voter not started yet = %d, want 200 (it is promoted once it answers)", code)
	}
	for id, voter := range serverIDs(t, hq) {
		if id != hq.n.nodeID && voter {
			t.Errorf("%s was added as a voter", id)
		}
	}
	// Headquarters still commits.
	if code := hq.admin().do("POST", "/api/v1/teams", map[string]string{"name": "Still quorate"}, nil); code != 201 {
		t.Errorf("write at hq after a dead voter tried to join = %d, want 201", code)
	}
}

// Item 11: a plant's certificate cannot change the membership or the
// leadership, nor the organisation's or another site's identity; its
// users' ordinary changes are still forwarded.
func TestFedPlantCannotChangeMembership(t *testing.T) {
	nodes := startFederation(t, 2, 1, nil)
	hq, plant := nodes[0], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := serverIDs(t, hq)

	forbidden := func(what string, err error) {
		t.Helper()
		var fe *storage.ForbiddenError
		if !errors.As(err, &fe) {
			t.Errorf("%s from the plant = %v, want a refusal", what, err)
		}
	}
	// Straight over the forwarding RPC, as a tampered plant would.
	forbidden("add voter", plant.n.raft.AddVoter(ctx, "rogue", freeAddr(t, "127.0.0.8")))
	forbidden("add non-voter", plant.n.raft.AddNonvoter(ctx, "rogue", freeAddr(t, "127.0.0.8")))
	forbidden("remove server", plant.n.raft.RemoveServer(ctx, nodes[1].n.nodeID))
	forbidden("transfer leadership", plant.n.raft.TransferLeadership(ctx, nodes[1].n.nodeID))
	now := time.Now().UTC()
	org, err := plant.n.store.Org(ctx, plant.n.OrgID())
	if err != nil {
		t.Fatal(err)
	}
	org.Name = "Taken over"
	forbidden("rename organisation", plant.n.raft.Propose(ctx, storage.Command{At: now, ActorID: "system", Changes: []storage.Change{{Op: storage.OpPutOrg, Org: &org}}}))
	hqSite, err := plant.n.store.Site(ctx, hq.n.siteID)
	if err != nil {
		t.Fatal(err)
	}
	hqSite.Name = "Plant 1 annex"
	forbidden("rename headquarters' site", plant.n.raft.Propose(ctx, storage.Command{At: now, ActorID: "system", Changes: []storage.Change{{Op: storage.OpPutSite, Site: &hqSite}}}))

	// And through the API at the plant.
	admin := plant.admin()
	code, body := admin.raw("POST", "/api/v1/cluster/leader/transfer", "application/json", strings.NewReader(`{}`))
	if code != 403 || apiError(t, body).Code != "forbidden" {
		t.Errorf("transfer leadership at the plant = %d %s, want 403", code, body)
	}
	if code := admin.do("DELETE", "/api/v1/cluster/nodes/"+nodes[1].n.nodeID, nil, nil); code != 403 {
		t.Errorf("remove a voter at the plant = %d, want 403", code)
	}
	if after := serverIDs(t, hq); len(after) != len(before) {
		t.Fatalf("membership changed from %v to %v", before, after)
	}
	if o, _ := hq.n.store.Org(ctx, hq.n.OrgID()); o.Name == "Taken over" {
		t.Error("the plant renamed the organisation")
	}
	if s, _ := hq.n.store.Site(ctx, hq.n.siteID); s.Name != "HQ 1" {
		t.Errorf("headquarters' site is now %q", s.Name)
	}

	// Users at the plant still change organisation data there.
	if code := admin.do("POST", "/api/v1/teams", map[string]string{"name": "Line 7"}, nil); code != 201 {
		t.Errorf("create team at the plant = %d, want 201", code)
	}
	if code := admin.do("POST", "/api/v1/users", web.UserInput{Email: "op@plant.example", Password: "correct horse battery"}, nil); code != 201 {
		t.Errorf("create user at the plant = %d, want 201", code)
	}
	// A plant may leave on its own.
	if code := admin.do("DELETE", "/api/v1/cluster/nodes/"+plant.n.nodeID, nil, nil); code != 204 {
		t.Errorf("plant leaves = %d, want 204", code)
	}
}

// Item 20: linearizable reads (a Raft barrier each) are limited per user.
func TestLinearizableReadsLimitedPerUser(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.Raft.LinearizableReadsPerSecond = 1
	cfg.Raft.LinearizableReadBurst = 3
	clock := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	tick := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }
	tn := startNodeWith(t, cfg, Options{Now: now})
	admin := tn.admin()
	if code := admin.do("POST", "/api/v1/users", web.UserInput{Email: "reader@example.com", Password: "correct horse battery"}, nil); code != 201 {
		t.Fatalf("create user = %d", code)
	}
	reader := tn.login("reader@example.com", "correct horse battery").with(web.ReadHeader, web.ReadLinearizable)
	lin := admin.with(web.ReadHeader, web.ReadLinearizable)

	before := tn.n.raft.Stats().LastIndex
	for i := range 3 {
		if code := lin.do("GET", "/api/v1/me", nil, nil); code != 200 {
			t.Fatalf("linearizable read %d within the burst = %d", i+1, code)
		}
	}
	code, body := lin.raw("GET", "/api/v1/me", "", nil)
	if code != 429 || apiError(t, body).Code != "rate_limited" || !strings.Contains(string(body), web.ReadHeader) {
		t.Fatalf("read over the burst = %d %s, want 429 rate_limited naming %s", code, body, web.ReadHeader)
	}
	if got := tn.n.raft.Stats().LastIndex - before; got != 3 {
		t.Errorf("Raft log grew by %d entries, want 3 (the refused read wrote none)", got)
	}
	// Another user has their own budget; local reads are not limited.
	if code := reader.do("GET", "/api/v1/me", nil, nil); code != 200 {
		t.Errorf("another user's linearizable read = %d, want 200", code)
	}
	if code := admin.do("GET", "/api/v1/me", nil, nil); code != 200 {
		t.Errorf("local read over the budget = %d, want 200", code)
	}
	// The budget refills with time.
	tick(time.Second)
	if code := lin.do("GET", "/api/v1/me", nil, nil); code != 200 {
		t.Errorf("linearizable read a second later = %d, want 200", code)
	}
	if code := lin.do("GET", "/api/v1/me", nil, nil); code != 429 {
		t.Errorf("second read in that second = %d, want 429", code)
	}
}
