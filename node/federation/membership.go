package federation

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"siteline/cluster/history"
	"siteline/cluster/pki"
	"siteline/cluster/raft"
	"siteline/node/internal/usecase"
	"siteline/storage"
	"siteline/web"
)

// Raft is what membership asks of the node's Raft.
type Raft interface {
	// Suffrage is "voter", "nonvoter" or "" (not in the configuration).
	Suffrage() string
	Servers(ctx context.Context) ([]raft.Server, error)
	Stats() raft.Stats
	PeerStats(ctx context.Context, addr string) (raft.Stats, error)
	AddNonvoter(ctx context.Context, id, addr string) error
	TransferLeadership(ctx context.Context, id string) error
	RemoveServer(ctx context.Context, id string) error
}

// Auditor appends an event to the local audit log.
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, detail any) error
}

// HistoryStatus asks a node what its site history stands at.
type HistoryStatus interface {
	HistoryStatus(ctx context.Context, nodeID string) (history.Status, error)
}

// Deps is what a Membership is built from.
type Deps struct {
	NodeID string
	OrgID  string
	// CA is the federation CA, with its key on nodes that can sign; nil
	// when none was loaded.
	CA    *pki.CA
	Raft  Raft
	Store MetaStore
	Audit Auditor
	// History answers the history columns of the status; nil when the
	// node runs without its bus.
	History HistoryStatus
	// URL is this node's public URL; LeafURL where plants link to it ("" for
	// nowhere). Both are known once the node listens.
	URL     func() string
	LeafURL func() string
	// Joinable says why other nodes could not join this one at the
	// address it gives them (nil when they can); nil means they can.
	Joinable func() error
	// CertFingerprint is the SHA-256 fingerprint of the node's
	// self-signed HTTPS certificate ("" for none); nil means none.
	CertFingerprint func() string
	Now             func() time.Time
}

// Membership is the node's side of the federation's membership: it mints
// and redeems join tokens and reports, transfers and removes members. It
// implements web.Cluster.
type Membership struct {
	d Deps

	mu        sync.Mutex
	redeeming map[string]bool // token hashes being redeemed now
}

var _ web.Cluster = (*Membership)(nil)

// New returns the membership of the node d describes.
func New(d Deps) *Membership {
	return &Membership{d: d, redeeming: map[string]bool{}}
}

func (m *Membership) CreateJoinToken(ctx context.Context, a web.Actor, ttl time.Duration, roleName string) (web.JoinToken, error) {
	role, err := pki.ParseRole(roleName)
	if err != nil {
		return web.JoinToken{}, validation("role", "must be voter or plant")
	}
	ca := m.d.CA
	if ca == nil || ca.Key == nil {
		return web.JoinToken{}, validation("node", "this node does not hold the federation CA's key: mint the token on a headquarters voter")
	}
	if s := m.d.Raft.Suffrage(); s != "voter" {
		return web.JoinToken{}, validation("node", "join tokens are minted on a voter; this node is "+orNone(s))
	}
	if m.d.Joinable != nil {
		if err := m.d.Joinable(); err != nil {
			return web.JoinToken{}, validation("node", err.Error())
		}
	}
	token, hash, err := newJoinToken(ca)
	if err != nil {
		return web.JoinToken{}, fmt.Errorf("mint join token: %w", err)
	}
	rec := joinTokenRecord{Role: role, ExpiresAt: m.d.Now().UTC().Add(ttl), CreatedBy: actorID(a)}
	b, _ := json.Marshal(rec)
	if err := m.d.Store.SetMeta(ctx, metaJoinTokenPre+hex.EncodeToString(hash[:]), string(b)); err != nil {
		return web.JoinToken{}, fmt.Errorf("store join token: %w", err)
	}
	tok := web.JoinToken{Token: token, Role: string(role), ExpiresAt: rec.ExpiresAt, Server: m.d.URL()}
	if m.d.CertFingerprint != nil {
		tok.Fingerprint = m.d.CertFingerprint()
	}
	return tok,
		m.d.Audit.Audit(ctx, actorID(a), "cluster.token.create", hex.EncodeToString(hash[:8]), map[string]any{"expires_at": rec.ExpiresAt, "role": role})
}

func orNone(s string) string {
	if s == "" {
		return "not in the cluster"
	}
	return "a " + s
}

func (m *Membership) Join(ctx context.Context, req web.JoinRequest) (web.JoinResponse, error) {
	hash, _, err := parseToken(req.Token)
	if err != nil {
		return web.JoinResponse{}, errBadToken
	}
	if !ValidNodeID(req.NodeID) {
		return web.JoinResponse{}, validation("node_id", "may hold only letters, digits, '-' and '_'")
	}
	if host, port, err := net.SplitHostPort(req.RaftAddr); err != nil || host == "" || port == "0" {
		return web.JoinResponse{}, validation("raft_addr", "must be a host:port other nodes can dial")
	}
	if ip := net.ParseIP(strings.Trim(strings.Split(req.RaftAddr, ":")[0], "[]")); ip != nil && ip.IsUnspecified() {
		return web.JoinResponse{}, validation("raft_addr", "must be a host:port other nodes can dial")
	}
	key := metaJoinTokenPre + hex.EncodeToString(hash[:])

	// Reserve the token, so two redemptions cannot both pass.
	m.mu.Lock()
	if m.redeeming[key] {
		m.mu.Unlock()
		return web.JoinResponse{}, errBadToken
	}
	m.redeeming[key] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.redeeming, key)
		m.mu.Unlock()
	}()
	raw, err := meta(ctx, m.d.Store, key)
	if err != nil {
		return web.JoinResponse{}, err
	}
	var rec joinTokenRecord
	if raw == "" || json.Unmarshal([]byte(raw), &rec) != nil || rec.UsedAt != nil || !m.d.Now().Before(rec.ExpiresAt) {
		return web.JoinResponse{}, errBadToken
	}
	role := rec.Role
	if role == "" {
		role = pki.RolePlant
	}
	if req.Voter && role != pki.RoleVoter {
		return web.JoinResponse{}, validation("voter", "this join token admits a plant, not a voter: mint a voter token")
	}
	if err := m.checkNewNode(ctx, req.NodeID, req.RaftAddr); err != nil {
		return web.JoinResponse{}, err
	}

	ca := m.d.CA
	resp := web.JoinResponse{OrgID: m.d.OrgID, CACert: string(ca.CertPEM), LeafURL: m.d.LeafURL(), NodeID: m.d.NodeID, Role: string(role)}
	if req.CSR != "" {
		cert, err := ca.Sign([]byte(req.CSR), req.NodeID, role)
		if err != nil {
			return web.JoinResponse{}, validation("csr", err.Error())
		}
		resp.Cert = string(cert)
		if role == pki.RoleVoter {
			k, err := ca.KeyPEM()
			if err != nil {
				return web.JoinResponse{}, err
			}
			resp.CAKey = string(k)
		}
	}
	// Every node joins as a non-voter; a voter asks to vote once it
	// serves (becomeVoter), when the leader can check that it answers.
	if err := m.d.Raft.AddNonvoter(ctx, req.NodeID, req.RaftAddr); err != nil {
		return web.JoinResponse{}, fmt.Errorf("add node %s to the cluster: %w", req.NodeID, err)
	}
	now := m.d.Now().UTC()
	rec.UsedAt, rec.UsedBy = &now, req.NodeID
	b, _ := json.Marshal(rec)
	if err := m.d.Store.SetMeta(ctx, key, string(b)); err != nil {
		return web.JoinResponse{}, fmt.Errorf("burn join token: %w", err)
	}
	return resp, m.d.Audit.Audit(ctx, "system", "cluster.join", req.NodeID,
		map[string]any{"raft_addr": req.RaftAddr, "site": req.Site, "role": role})
}

// checkNewNode refuses a node id or a Raft address already in the
// federation: a second node of that id would get a certificate in its name
// and take over its place in the configuration.
func (m *Membership) checkNewNode(ctx context.Context, id, addr string) error {
	srvs, err := m.d.Raft.Servers(ctx)
	if err != nil {
		return err
	}
	for _, s := range srvs {
		switch {
		case s.ID == id:
			return fmt.Errorf("node id %s is already in the federation (remove that node first): %w", id, storage.ErrConflict)
		case s.Address == addr:
			return fmt.Errorf("raft_addr %s is already node %s's: %w", addr, s.ID, storage.ErrConflict)
		}
	}
	return nil
}

func (m *Membership) TransferLeadership(ctx context.Context, a web.Actor, id string) error {
	if err := m.d.Raft.TransferLeadership(ctx, id); err != nil {
		return err
	}
	return m.d.Audit.Audit(ctx, actorID(a), "cluster.leader.transfer", id, nil)
}

func (m *Membership) RemoveNode(ctx context.Context, a web.Actor, id string) error {
	if _, err := m.Server(ctx, id); err != nil {
		return err
	}
	if err := m.d.Raft.RemoveServer(ctx, id); err != nil {
		return err
	}
	return m.d.Audit.Audit(ctx, actorID(a), "cluster.node.remove", id, nil)
}

// Server returns member id of the Raft configuration.
func (m *Membership) Server(ctx context.Context, id string) (raft.Server, error) {
	srvs, err := m.d.Raft.Servers(ctx)
	if err != nil {
		return raft.Server{}, err
	}
	for _, s := range srvs {
		if s.ID == id {
			return s, nil
		}
	}
	return raft.Server{}, fmt.Errorf("node %s: %w", id, storage.ErrNotFound)
}

// actorID is who the records name for a.
func actorID(a web.Actor) string { return usecase.ActorID(a) }

func validation(field, problem string) error {
	return &storage.ValidationError{Field: field, Problem: problem}
}
