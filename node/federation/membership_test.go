package federation

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/cluster/history"
	"siteline/cluster/pki"
	"siteline/cluster/raft"
	"siteline/storage"
	"siteline/web"
)

// hq is a membership on a headquarters voter that holds the CA's key.
type hq struct {
	m     *Membership
	raft  *fakeRaft
	store *fakeStore
	audit *fakeAudit
	clock *clock
	ca    *pki.CA
}

func newHQ(t *testing.T) *hq {
	t.Helper()
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	h := &hq{
		raft: &fakeRaft{
			suffrage: "voter",
			addr:     "10.0.0.1:7000",
			servers:  []raft.Server{{ID: "hq-1", Address: "10.0.0.1:7000", Voter: true}},
			stats:    raft.Stats{NodeID: "hq-1", LeaderID: "hq-1", State: "Leader", LastIndex: 10, AppliedIndex: 10},
		},
		store: newFakeStore(),
		audit: &fakeAudit{},
		clock: &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)},
		ca:    ca,
	}
	h.m = New(Deps{
		NodeID: "hq-1", OrgID: "org-1", CA: ca,
		Raft: h.raft, Store: h.store, Audit: h.audit,
		URL:     func() string { return "https://hq:8443" },
		LeafURL: func() string { return "tls://hq:7422" },
		Now:     h.clock.now,
	})
	return h
}

var admin = web.Actor{UserID: "u-admin"}

func (h *hq) mint(t *testing.T, role string) string {
	t.Helper()
	tok, err := h.m.CreateJoinToken(context.Background(), admin, time.Hour, role)
	if err != nil {
		t.Fatalf("mint %s token: %v", role, err)
	}
	return tok.Token
}

func csr(t *testing.T, id string) string {
	t.Helper()
	_, c, err := pki.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}

func TestCreateJoinTokenKeepsOnlyTheHash(t *testing.T) {
	h := newHQ(t)
	tok, err := h.m.CreateJoinToken(context.Background(), admin, time.Hour, "plant")
	if err != nil {
		t.Fatal(err)
	}
	if tok.Role != "plant" || tok.Server != "https://hq:8443" || !tok.ExpiresAt.Equal(h.clock.now().Add(time.Hour)) {
		t.Errorf("token = %+v, want a plant token for https://hq:8443 expiring in an hour", tok)
	}
	secret := strings.Split(tok.Token, ".")[1]
	for k, v := range h.store.meta {
		if !strings.HasPrefix(k, metaJoinTokenPre) || strings.Contains(k+v, secret) {
			t.Errorf("meta %s = %s: want a join_token.<hash> key without the secret", k, v)
		}
	}
	if len(h.store.meta) != 1 {
		t.Errorf("meta holds %d keys, want the one token", len(h.store.meta))
	}
	if ev := h.audit.list(); len(ev) != 1 || !strings.HasPrefix(ev[0], "u-admin cluster.token.create ") {
		t.Errorf("audit = %q, want one cluster.token.create by u-admin", ev)
	}
}

func TestCreateJoinTokenRefusals(t *testing.T) {
	h := newHQ(t)
	ctx := context.Background()
	var ve *storage.ValidationError
	if _, err := h.m.CreateJoinToken(ctx, admin, time.Hour, "king"); !errors.As(err, &ve) || ve.Field != "role" {
		t.Errorf("token for role king: %v, want a validation error naming role", err)
	}
	h.raft.suffrage = "nonvoter"
	if _, err := h.m.CreateJoinToken(ctx, admin, time.Hour, "plant"); !errors.As(err, &ve) || !strings.Contains(err.Error(), "a nonvoter") {
		t.Errorf("token on a non-voter: %v, want a validation error naming the non-voter", err)
	}
	h.raft.suffrage = "voter"
	keyless := *h.ca
	keyless.Key = nil
	h.m.d.CA = &keyless
	if _, err := h.m.CreateJoinToken(ctx, admin, time.Hour, "plant"); !errors.As(err, &ve) || !strings.Contains(err.Error(), "CA's key") {
		t.Errorf("token without the CA key: %v, want a validation error naming the key", err)
	}
	if len(h.store.meta) != 0 || len(h.audit.list()) != 0 {
		t.Errorf("refused mints left meta %v, audit %v", h.store.meta, h.audit.list())
	}
}

func TestJoinRedeemsATokenOnce(t *testing.T) {
	h := newHQ(t)
	ctx := context.Background()
	tok := h.mint(t, "plant")
	resp, err := h.m.Join(ctx, web.JoinRequest{Token: tok, NodeID: "plant-1", RaftAddr: "10.0.1.1:7000", Site: "Plant 1", CSR: csr(t, "plant-1")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.OrgID != "org-1" || resp.Role != "plant" || resp.LeafURL != "tls://hq:7422" || resp.CAKey != "" || resp.CACert != string(h.ca.CertPEM) {
		t.Errorf("answer = org %q role %q leaf %q, CA key given %v; want org-1, plant, tls://hq:7422, no CA key", resp.OrgID, resp.Role, resp.LeafURL, resp.CAKey != "")
	}
	cert, err := pki.ParseCertPEM([]byte(resp.Cert))
	if err != nil || pki.RoleOf(cert) != pki.RolePlant || cert.Subject.CommonName != "plant-1" {
		t.Errorf("certificate: %v, role %v; want plant-1's plant certificate", err, pki.RoleOf(cert))
	}
	if got := h.raft.changes(); !slices.Equal(got, []string{"nonvoter plant-1 10.0.1.1:7000"}) {
		t.Errorf("raft changes = %q, want plant-1 added as a non-voter", got)
	}
	_, err = h.m.Join(ctx, web.JoinRequest{Token: tok, NodeID: "plant-2", RaftAddr: "10.0.1.2:7000"})
	if !errors.Is(err, storage.ErrUnauthenticated) {
		t.Errorf("second redemption: %v, want unauthenticated", err)
	}
	if got := h.raft.changes(); len(got) != 1 {
		t.Errorf("second redemption changed raft: %q", got)
	}
	if ev := h.audit.list(); !slices.Contains(ev, "system cluster.join plant-1") {
		t.Errorf("audit = %q, want the join of plant-1", ev)
	}
}

func TestJoinAsVoterGetsTheCAKey(t *testing.T) {
	h := newHQ(t)
	resp, err := h.m.Join(context.Background(), web.JoinRequest{Token: h.mint(t, "voter"), NodeID: "hq-2", RaftAddr: "10.0.0.2:7000", Voter: true, CSR: csr(t, "hq-2")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Role != "voter" || resp.CAKey == "" {
		t.Errorf("voter join: role %q, CA key given %v; want voter with the key", resp.Role, resp.CAKey != "")
	}
	// It joins as a non-voter all the same and asks to vote once it serves.
	if got := h.raft.changes(); !slices.Equal(got, []string{"nonvoter hq-2 10.0.0.2:7000"}) {
		t.Errorf("raft changes = %q, want hq-2 added as a non-voter", got)
	}
}

func TestJoinRefusesBadRequestsAndChangesNothing(t *testing.T) {
	h := newHQ(t)
	ctx := context.Background()
	plantTok := h.mint(t, "plant")
	cases := []struct {
		name string
		req  web.JoinRequest
		want func(error) bool
	}{
		{"not a token", web.JoinRequest{Token: "nonsense", NodeID: "p", RaftAddr: "10.0.1.1:7000"}, isUnauthenticated},
		{"unknown token", web.JoinRequest{Token: otherToken(t, h), NodeID: "p", RaftAddr: "10.0.1.1:7000"}, isUnauthenticated},
		{"bad node id", web.JoinRequest{Token: plantTok, NodeID: "p/1", RaftAddr: "10.0.1.1:7000"}, isValidation("node_id")},
		{"port 0", web.JoinRequest{Token: plantTok, NodeID: "p", RaftAddr: "10.0.1.1:0"}, isValidation("raft_addr")},
		{"unspecified host", web.JoinRequest{Token: plantTok, NodeID: "p", RaftAddr: "0.0.0.0:7000"}, isValidation("raft_addr")},
		{"voter on a plant token", web.JoinRequest{Token: plantTok, NodeID: "p", RaftAddr: "10.0.1.1:7000", Voter: true}, isValidation("voter")},
		{"node id taken", web.JoinRequest{Token: plantTok, NodeID: "hq-1", RaftAddr: "10.0.1.1:7000"}, isConflict},
		{"address taken", web.JoinRequest{Token: plantTok, NodeID: "p", RaftAddr: "10.0.0.1:7000"}, isConflict},
		{"bad CSR", web.JoinRequest{Token: plantTok, NodeID: "p", RaftAddr: "10.0.1.1:7000", CSR: "not a CSR"}, isValidation("csr")},
	}
	for _, c := range cases {
		if _, err := h.m.Join(ctx, c.req); !c.want(err) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if got := h.raft.changes(); len(got) != 0 {
		t.Errorf("refused joins changed raft: %q", got)
	}
	// The token survived every refusal, until it expires.
	h.clock.add(time.Hour)
	if _, err := h.m.Join(ctx, web.JoinRequest{Token: plantTok, NodeID: "p", RaftAddr: "10.0.1.1:7000"}); !isUnauthenticated(err) {
		t.Errorf("expired token: %v, want unauthenticated", err)
	}
	h.clock.add(-time.Second)
	if _, err := h.m.Join(ctx, web.JoinRequest{Token: plantTok, NodeID: "p", RaftAddr: "10.0.1.1:7000"}); err != nil {
		t.Errorf("token a second before it expires: %v", err)
	}
}

// otherToken is a well-formed token this voter never minted.
func otherToken(t *testing.T, h *hq) string {
	t.Helper()
	tok, _, err := newJoinToken(h.ca)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func isUnauthenticated(err error) bool { return errors.Is(err, storage.ErrUnauthenticated) }
func isConflict(err error) bool        { return errors.Is(err, storage.ErrConflict) }

func isValidation(field string) func(error) bool {
	return func(err error) bool {
		var ve *storage.ValidationError
		return errors.As(err, &ve) && ve.Field == field
	}
}

func TestRemoveAndTransfer(t *testing.T) {
	h := newHQ(t)
	ctx := context.Background()
	h.raft.servers = append(h.raft.servers, raft.Server{ID: "plant-1", Address: "10.0.1.1:7000"})
	if err := h.m.RemoveNode(ctx, admin, "ghost"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("remove an unknown node: %v, want not found", err)
	}
	if err := h.m.RemoveNode(ctx, admin, "plant-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Server(ctx, "plant-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("plant-1 after removal: %v, want not found", err)
	}
	if err := h.m.TransferLeadership(ctx, web.Actor{Local: true}, "hq-2"); err != nil {
		t.Fatal(err)
	}
	h.raft.refuse = errors.New("no leader")
	if err := h.m.TransferLeadership(ctx, admin, "hq-3"); err == nil {
		t.Error("a refused transfer reported success")
	}
	want := []string{"u-admin cluster.node.remove plant-1", "cli cluster.leader.transfer hq-2"}
	if got := h.audit.list(); !slices.Equal(got, want) {
		t.Errorf("audit = %q, want %q", got, want)
	}
}

func TestStatusReportsEveryMember(t *testing.T) {
	h := newHQ(t)
	contact := time.Date(2026, 3, 1, 7, 59, 59, 0, time.UTC)
	h.raft.servers = []raft.Server{
		{ID: "hq-1", Address: "10.0.0.1:7000", Voter: true},
		{ID: "hq-2", Address: "10.0.0.2:7000", Voter: true},
		{ID: "plant-1", Address: "10.0.1.1:7000"},
		{ID: "plant-2", Address: "10.0.1.2:7000"},
	}
	h.raft.peers = map[string]raft.Stats{
		"10.0.0.2:7000": {Site: "HQ 2", State: "Follower", AppliedIndex: 10, LastIndex: 10},
		"10.0.1.1:7000": {Site: "Plant 1", State: "Follower", AppliedIndex: 7, LastIndex: 9, LastContact: contact},
	}
	h.m.d.History = fakeHistory{
		"hq-1":    {Role: "hub", Links: 1},
		"plant-1": {Role: "plant", Backlog: 3, Links: 1},
		"hq-2":    {Role: "hub", Links: 2},
	}
	st, err := h.m.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.NodeID != "hq-1" || st.LeaderID != "hq-1" || !st.Self.CanMintTokens || len(st.CAFingerprint) != 64 {
		t.Errorf("status = node %q leader %q can mint %v fingerprint %q", st.NodeID, st.LeaderID, st.Self.CanMintTokens, st.CAFingerprint)
	}
	if len(st.Nodes) != 4 {
		t.Fatalf("status lists %d nodes, want 4", len(st.Nodes))
	}
	self, hq2, p1, p2 := st.Nodes[0], st.Nodes[1], st.Nodes[2], st.Nodes[3]
	if self.Role != "leader" || self.Link != "self" || self.HistoryLink != "hub, 1 link" {
		t.Errorf("self = %+v", self)
	}
	if hq2.Role != "voter" || hq2.Link != "up" || hq2.Site != "HQ 2" || hq2.HistoryLink != "hub, 2 links" || hq2.Lag != 0 {
		t.Errorf("hq-2 = %+v", hq2)
	}
	if p1.Role != "nonvoter" || p1.Lag != 3 || p1.HistoryLink != "up" || p1.HistoryBacklog == nil || *p1.HistoryBacklog != 3 ||
		p1.LastContact == nil || !p1.LastContact.Equal(contact) {
		t.Errorf("plant-1 = %+v", p1)
	}
	if p2.Link != "down" || p2.Error == "" || p2.HistoryBacklog != nil || p2.HistoryLink != "" {
		t.Errorf("plant-2, which does not answer = %+v", p2)
	}
}

func TestHistoryColumns(t *testing.T) {
	cases := []struct {
		st   *history.Status
		link string
	}{
		{nil, ""},
		{&history.Status{Role: "plant", Links: 0}, "down"},
		{&history.Status{Role: "plant", Links: 1}, "up"},
		{&history.Status{Role: "hub", Links: 0}, "hub, 0 links"},
	}
	for _, c := range cases {
		var cn web.ClusterNode
		historyColumns(&cn, c.st)
		if cn.HistoryLink != c.link || (c.st == nil) != (cn.HistoryBacklog == nil) {
			t.Errorf("history columns of %+v = %q, backlog %v; want %q", c.st, cn.HistoryLink, cn.HistoryBacklog, c.link)
		}
	}
}

func TestStatusWithoutBusLeavesHistoryEmpty(t *testing.T) {
	h := newHQ(t)
	st, err := h.m.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 1 || st.Nodes[0].HistoryLink != "" || st.Nodes[0].HistoryBacklog != nil {
		t.Errorf("status without a bus = %+v", st.Nodes)
	}
}

func TestValidNodeID(t *testing.T) {
	for id, want := range map[string]bool{
		"hq-1": true, "Plant_2": true, "": false, "a b": false, "ä": false, "x/y": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
	} {
		if ValidNodeID(id) != want {
			t.Errorf("ValidNodeID(%q) = %v, want %v", id, !want, want)
		}
	}
}
