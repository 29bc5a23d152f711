package node

import (
	"context"

	"siteline/cluster/bus"
	"siteline/cluster/history"
	"siteline/cluster/pki"
	"siteline/node/federation"
)

// The node's wiring of its federation membership (node/federation).

// JoinOptions make a new node join an existing federation at Start instead
// of creating an organisation.
type JoinOptions struct {
	// Server is the URL of a voter's HTTP API, such as https://hq:8443.
	Server string
	// Token is the join token minted on that voter.
	Token string
	// Voter insists on joining as a voter (headquarters): the join is
	// refused unless the token admits one. The token decides the role.
	Voter bool
	// Insecure skips the check of Server's HTTPS certificate (a node's
	// self-signed one). The CA pinned in the token is checked regardless.
	Insecure bool
	// Fingerprint pins Server's HTTPS certificate by its SHA-256
	// fingerprint ("sha256:..."): better than Insecure for a node's
	// self-signed certificate.
	Fingerprint string
}

func (n *Node) pkiFiles() pki.Files {
	if c := n.cfg.Cluster; c.CAFile != "" {
		return pki.Files{CA: c.CAFile, Cert: c.CertFile, Key: c.KeyFile}
	}
	return pki.InDir(n.cfg.path("pki"))
}

// prepareFederation makes sure this node has its certificates, joining the
// federation first when asked to and not done yet.
func (n *Node) prepareFederation(ctx context.Context, raftListen string) (federation.Setup, error) {
	c := federation.PrepareConfig{
		NodeID:        n.nodeID,
		Site:          n.cfg.Node.Site,
		OrgName:       n.cfg.Organisation.Name,
		Dir:           n.cfg.path("pki"),
		Files:         n.pkiFiles(),
		BYO:           n.cfg.Cluster.CAFile != "",
		RaftListen:    raftListen,
		RaftAdvertise: n.cfg.Raft.Advertise,
		Store:         n.store,
		Logger:        n.log,
	}
	if j := n.opts.Join; j != nil {
		c.Join = &federation.Join{Server: j.Server, Token: j.Token, Voter: j.Voter, Insecure: j.Insecure, Fingerprint: j.Fingerprint}
	}
	rs, err := federation.Prepare(ctx, c)
	n.fedSetup = rs
	return rs, err
}

// afterRaftStart waits for what the node needs before it serves
// (federation.AfterStart).
func (n *Node) afterRaftStart(ctx context.Context, rs federation.Setup) error {
	return federation.AfterStart(ctx, rs, n.nodeID, n.raft, n.store, n.log)
}

// newMembership builds the federation membership the web API serves, once
// the bus runs and the organisation is known.
func (n *Node) newMembership() *federation.Membership {
	d := federation.Deps{
		NodeID:          n.nodeID,
		OrgID:           n.orgID,
		CA:              n.fedSetup.CA,
		Raft:            n.raft,
		Store:           n.store,
		Audit:           auditFunc(n.audit),
		URL:             n.URL,
		LeafURL:         n.LeafURL,
		Now:             n.now,
		CertFingerprint: func() string { return n.selfSigned },
		Joinable:        n.joinable,
	}
	if n.bus != nil {
		d.History = busHistory{n.bus}
	}
	n.membership = federation.New(d)
	return n.membership
}

// auditFunc is n.audit as a federation.Auditor.
type auditFunc func(ctx context.Context, actor, action, target string, detail any) error

func (f auditFunc) Audit(ctx context.Context, actor, action, target string, detail any) error {
	return f(ctx, actor, action, target, detail)
}

// busHistory asks nodes for their history status over the bus.
type busHistory struct{ b *bus.Bus }

func (h busHistory) HistoryStatus(ctx context.Context, nodeID string) (history.Status, error) {
	return history.AskStatus(ctx, h.b, nodeID)
}
