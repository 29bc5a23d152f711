package raft

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"siteline/cluster/pki"
	"siteline/internal/testutil"
	"siteline/storage"
)

// withCert gives a node mutual TLS with a certificate of ca for its id in
// role.
func withCert(t *testing.T, ca *pki.CA, id string, role pki.Role) nodeOpt {
	t.Helper()
	files := pki.InDir(filepath.Join(t.TempDir(), "pki"))
	key, csr, err := pki.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(csr, id, role)
	if err != nil {
		t.Fatal(err)
	}
	if err := files.WriteNode(ca.CertPEM, cert, key); err != nil {
		t.Fatal(err)
	}
	conf, err := files.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.TLS = conf.Clone() }
}

func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func suffrages(t *testing.T, ctx context.Context, n *Node) map[string]bool {
	t.Helper()
	srvs, err := n.Servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range srvs {
		out[s.ID] = s.Voter
	}
	return out
}

// Item 11 of the security review: the leader refuses what a plant's
// certificate has no business asking for, and adds no voter it cannot
// reach in that voter's name.
func TestPlantCertificateIsRefusedMembershipChanges(t *testing.T) {
	testutil.System(t)
	ctx := testContext(t)
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	hq := startNode(t, ctx, t.TempDir(), "hq", true, withRPC, withCert(t, ca, "hq", pki.RoleVoter))
	waitLeader(t, ctx, hq.node)
	plant := startNode(t, ctx, t.TempDir(), "plant", false, withRPC, withCert(t, ca, "plant", pki.RolePlant))
	if err := hq.node.AddNonvoter(ctx, "plant", plant.node.Addr()); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	waitLeader(t, ctx, plant.node)
	propose(t, ctx, hq.node, putOrg("o1", "Acme"))
	propose(t, ctx, hq.node, storage.Command{ActorID: "test", Changes: []storage.Change{{Op: storage.OpPutSite, Site: &storage.Site{ID: "s1", OrgID: "o1", Name: "HQ"}}}})

	refused := func(what string, err error) {
		t.Helper()
		var fe *storage.ForbiddenError
		if !errors.As(err, &fe) || fe.Permission != PermVoter {
			t.Errorf("%s from the plant = %v, want refused for want of %s", what, err, PermVoter)
		}
	}
	refused("add voter", plant.node.AddVoter(ctx, "x", deadAddr(t)))
	refused("add non-voter", plant.node.AddNonvoter(ctx, "x", deadAddr(t)))
	refused("remove the leader", plant.node.RemoveServer(ctx, "hq"))
	refused("transfer leadership", plant.node.TransferLeadership(ctx, ""))
	refused("rename the organisation", plant.node.Propose(ctx, putOrg("o1", "Taken")))
	refused("rename a site", plant.node.Propose(ctx, storage.Command{ActorID: "test", Changes: []storage.Change{{Op: storage.OpPutSite, Site: &storage.Site{ID: "s1", OrgID: "o1", Name: "Mine"}}}}))
	wantOrg(t, ctx, hq.store, "o1", "Acme")

	// What a plant's users do, and its own new site, go through.
	propose(t, ctx, plant.node, putUser("o1", "u1", "u1@example.com"))
	propose(t, ctx, plant.node, storage.Command{ActorID: "test", Changes: []storage.Change{{Op: storage.OpPutSite, Site: &storage.Site{ID: "s2", OrgID: "o1", Name: "Plant"}}}})

	// A voter is added only once it answers in its own name.
	err = hq.node.AddVoter(ctx, "ghost", deadAddr(t))
	if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "cannot be reached") {
		t.Errorf("AddVoter at a dead address = %v", err)
	}
	if err := hq.node.AddVoter(ctx, "other", plant.node.Addr()); err == nil || !strings.Contains(err.Error(), `certificate of node "plant"`) {
		t.Errorf("AddVoter of another name at the plant's address = %v", err)
	}
	if err := hq.node.AddVoter(ctx, "plant", plant.node.Addr()); err == nil || !strings.Contains(err.Error(), "plant certificate") {
		t.Errorf("AddVoter of the plant = %v", err)
	}
	if got := suffrages(t, ctx, hq.node); len(got) != 2 || !got["hq"] || got["plant"] {
		t.Errorf("membership = %v, want hq voter and plant non-voter", got)
	}
	propose(t, ctx, hq.node, putUser("o1", "u2", "u2@example.com")) // still quorate

	// A plant may leave.
	if err := plant.node.RemoveServer(ctx, "plant"); err != nil {
		t.Errorf("plant leaves: %v", err)
	}
}

// A voter's certificate may ask for membership changes; one that names no
// role counts as a voter's when its node votes.
func TestVoterCertificateMayChangeMembership(t *testing.T) {
	testutil.System(t)
	ctx := testContext(t)
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	hq := startNode(t, ctx, t.TempDir(), "hq", true, withRPC, withCert(t, ca, "hq", pki.RoleVoter))
	waitLeader(t, ctx, hq.node)
	v2 := startNode(t, ctx, t.TempDir(), "v2", false, withRPC, withCert(t, ca, "v2", pki.RoleVoter))
	if err := hq.node.AddVoter(ctx, "v2", v2.node.Addr()); err != nil {
		t.Fatalf("AddVoter v2: %v", err)
	}
	waitLeader(t, ctx, v2.node)
	v3 := startNode(t, ctx, t.TempDir(), "v3", false, withRPC, withCert(t, ca, "v3", pki.RoleVoter))
	if err := v2.node.AddVoter(ctx, "v3", v3.node.Addr()); err != nil {
		t.Fatalf("AddVoter v3 asked at a follower: %v", err)
	}
	if got := suffrages(t, ctx, hq.node); !got["v2"] || !got["v3"] {
		t.Errorf("membership = %v", got)
	}
	// Certificates of one's own PKI name no role: the configuration decides.
	plant := startNode(t, ctx, t.TempDir(), "plant", false, withRPC, withCert(t, ca, "plant", pki.RolePlant))
	if err := hq.node.AddNonvoter(ctx, "plant", plant.node.Addr()); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	if !hq.node.isVoter(peer{tls: true, id: "v3"}) {
		t.Error("a voter's certificate without a role is not taken for a voter's")
	}
	for _, id := range []string{"plant", "stranger"} {
		if hq.node.isVoter(peer{tls: true, id: id}) {
			t.Errorf("%s's certificate without a role is taken for a voter's", id)
		}
	}
}
