package node

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"siteline/cluster/pki"
	"siteline/cluster/raft"
	"siteline/storage"
	"siteline/web"
)

// Federation: every node's Raft transport (and the forwarding RPC that
// shares its listener) is mutual TLS with certificates of the federation's
// own CA. A node that forms a cluster (the first start of any node that is
// not joining) creates that CA in DATA/pki; a node that joins sends a
// certificate request with a one-time join token to a voter and gets its
// certificate back (and, when it joins as a voter, the CA key, so that it
// can sign in turn). Bring-your-own PKI: cluster.ca_file, cluster.cert_file
// and cluster.key_file replace DATA/pki.
//
// The token fixes the role (voter or plant): the voter that mints it says
// which, the certificate names it (pki.Role), and the leader refuses a
// plant's certificate what only voters may ask for (cluster/raft/peer.go).
// A voter joins as a non-voter, which cannot cost the cluster its quorum,
// and once it serves asks to be made a voter; the leader first checks it
// answers at its address in its own name.
//
// Join tokens are kept on the voter that minted them (in its node-local
// meta table, as the SHA-256 of the secret only) and are redeemed there:
// they are secrets of a moment between two machines, not organisation data
// that every plant should hold, and keeping them out of the replicated log
// keeps their hashes off the plants. The token pins the CA fingerprint, so
// the joining node checks it got the federation it was invited to.

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
}

const (
	metaJoined       = "federation_joined" // set once this node joined a federation
	metaJoinTokenPre = "join_token."       // + hex SHA-256 of a token's secret
	joinTokenPrefix  = "slj1"
	pinLen           = 16 // bytes of the CA fingerprint a token pins
)

// federation implements web.Cluster.
type federation struct {
	n      *Node
	joined bool     // this node joined rather than formed the cluster
	ca     *pki.CA  // the CA (with its key on nodes that can sign)
	role   pki.Role // what this node's certificate names; "" for none

	mu        sync.Mutex
	redeeming map[string]bool // token hashes being redeemed now
}

var _ web.Cluster = (*federation)(nil)

// raftSetup is what prepareFederation decides for Raft.
type raftSetup struct {
	tls       *tls.Config
	ln        net.Listener // opened early by a joining node; nil otherwise
	bootstrap bool
	firstJoin string   // org id this node has just joined; "" otherwise
	joinRole  pki.Role // the role it has just joined in
}

func (n *Node) pkiFiles() pki.Files {
	if c := n.cfg.Cluster; c.CAFile != "" {
		return pki.Files{CA: c.CAFile, Cert: c.CertFile, Key: c.KeyFile}
	}
	return pki.InDir(n.cfg.path("pki"))
}

// prepareFederation makes sure this node has its certificates, joining the
// federation first when asked to and not done yet.
func (n *Node) prepareFederation(ctx context.Context) (rs raftSetup, err error) {
	n.fed = &federation{n: n, redeeming: map[string]bool{}}
	joined, err := n.meta(ctx, metaJoined)
	if err != nil {
		return rs, err
	}
	n.fed.joined = joined != ""
	files := n.pkiFiles()
	byo := n.cfg.Cluster.CAFile != ""
	switch {
	case !n.fed.joined && n.opts.Join != nil:
		if rs.ln, err = net.Listen("tcp", n.cfg.Raft.Listen); err != nil {
			return rs, fmt.Errorf("raft listen %s: %w", n.cfg.Raft.Listen, err)
		}
		if rs.firstJoin, rs.joinRole, err = n.join(ctx, rs.ln, files, byo); err != nil {
			rs.ln.Close()
			return rs, fmt.Errorf("join federation at %s: %w", n.opts.Join.Server, err)
		}
		n.fed.joined = true
	case !files.Exists() && !byo && !n.fed.joined:
		if err := n.createPKI(files); err != nil {
			return rs, err
		}
	}
	caKey := ""
	if !byo {
		caKey = n.cfg.path("pki", pki.CAKeyFile)
	}
	if n.fed.ca, err = pki.LoadCA(files.CA, caKey); err != nil {
		return rs, err
	}
	if rs.tls, err = files.TLSConfig(); err != nil {
		return rs, err
	}
	if n.fed.role, err = pki.CertRole(files.Cert); err != nil {
		return rs, err
	}
	rs.bootstrap = !n.fed.joined
	return rs, nil
}

// createPKI makes this node the root of a federation: a new CA and this
// node's certificate signed by it.
func (n *Node) createPKI(files pki.Files) error {
	ca, err := pki.NewCA(n.cfg.Organisation.Name)
	if err != nil {
		return err
	}
	if err := ca.Save(n.cfg.path("pki")); err != nil {
		return err
	}
	key, csr, err := pki.NewKey(n.nodeID)
	if err != nil {
		return err
	}
	cert, err := ca.Sign(csr, n.nodeID, pki.RoleVoter)
	if err != nil {
		return err
	}
	if err := files.WriteNode(ca.CertPEM, cert, key); err != nil {
		return err
	}
	n.log.Info("federation CA created", "dir", n.cfg.path("pki"))
	return nil
}

// join redeems the join token at the voter and keeps what it answers.
func (n *Node) join(ctx context.Context, ln net.Listener, files pki.Files, byo bool) (string, pki.Role, error) {
	j := n.opts.Join
	pin, err := tokenPin(j.Token)
	if err != nil {
		return "", "", err
	}
	advertise := n.cfg.Raft.Advertise
	if advertise == "" {
		advertise = ln.Addr().String()
	}
	req := web.JoinRequest{Token: j.Token, NodeID: n.nodeID, RaftAddr: advertise, Site: n.cfg.Node.Site, Voter: j.Voter}
	var keyPEM []byte
	if !byo {
		var csr []byte
		if keyPEM, csr, err = pki.NewKey(n.nodeID); err != nil {
			return "", "", err
		}
		req.CSR = string(csr)
	}
	var resp web.JoinResponse
	if err := RemoteClient(j.Server, "", j.Insecure).Do(ctx, http.MethodPost, "/cluster/join", req, &resp); err != nil {
		return "", "", err
	}
	ca, err := pki.ParseCertPEM([]byte(resp.CACert))
	if err != nil {
		return "", "", fmt.Errorf("CA certificate in the answer: %w", err)
	}
	if fp := sha256.Sum256(ca.Raw); subtle.ConstantTimeCompare(fp[:pinLen], pin) != 1 {
		return "", "", errors.New("the server's federation CA is not the one the join token names")
	}
	role, err := pki.ParseRole(resp.Role)
	if err != nil {
		return "", "", fmt.Errorf("the server's answer: %w", err)
	}
	if !byo {
		if err := files.WriteNode([]byte(resp.CACert), []byte(resp.Cert), keyPEM); err != nil {
			return "", "", err
		}
		if resp.CAKey != "" {
			if err := os.WriteFile(n.cfg.path("pki", pki.CAKeyFile), []byte(resp.CAKey), 0o600); err != nil {
				return "", "", fmt.Errorf("store CA key: %w", err)
			}
		}
	}
	for k, v := range map[string]string{metaJoined: j.Server, "org_id": resp.OrgID, metaLeafURL: resp.LeafURL} {
		if err := n.store.SetMeta(ctx, k, v); err != nil {
			return "", "", err
		}
	}
	n.log.Info("joined federation", "server", j.Server, "org_id", resp.OrgID, "role", role, "raft_addr", advertise)
	return resp.OrgID, role, nil
}

// afterRaftStart waits for what the node needs before it serves: a leader
// on a node that formed the cluster; the organisation's data on a node that
// has just joined. A joined node that restarts serves from its copy at once,
// leader or not: a plant must come up during an outage.
func (n *Node) afterRaftStart(ctx context.Context, rs raftSetup) error {
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch {
	case rs.firstJoin != "":
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := n.store.Org(wait, rs.firstJoin); err == nil {
				return n.becomeVoter(wait, rs.joinRole)
			}
			select {
			case <-wait.Done():
				return fmt.Errorf("joined, but the organisation's data did not arrive: %w", wait.Err())
			case <-tick.C:
			}
		}
	case rs.bootstrap:
		if err := n.raft.WaitLeader(wait); err != nil {
			return fmt.Errorf("raft: no leader elected: %w", err)
		}
	case n.fed.role == pki.RoleVoter && n.raft.Suffrage() == "nonvoter":
		// A voter that did not get to vote when it joined asks again; it
		// serves either way.
		try, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := n.raft.WaitLeader(try)
		if err == nil {
			err = n.becomeVoter(try, pki.RoleVoter)
		}
		if err != nil {
			n.log.Warn("federation: this voter is still a non-voter; it asks again at its next start", "err", err)
		}
	}
	return nil
}

// becomeVoter makes a node that has just joined as a voter one, now that
// it serves and the leader can check it answers.
func (n *Node) becomeVoter(ctx context.Context, role pki.Role) error {
	if role != pki.RoleVoter {
		return nil
	}
	if err := n.raft.AddVoter(ctx, n.nodeID, n.raft.Addr()); err != nil {
		return fmt.Errorf("joined as a non-voter; becoming a voter failed: %w", err)
	}
	n.log.Info("federation: this node is now a voter")
	return nil
}

// NewJoinToken makes a token: a 256-bit secret and the CA pin.
func newJoinToken(ca *pki.CA) (token string, hash [32]byte, err error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", hash, err
	}
	fp := ca.Fingerprint()
	enc := base64.RawURLEncoding
	return joinTokenPrefix + "." + enc.EncodeToString(secret) + "." + enc.EncodeToString(fp[:pinLen]), sha256.Sum256(secret), nil
}

// parseToken returns the SHA-256 of a token's secret and its CA pin.
func parseToken(token string) (hash [32]byte, pin []byte, err error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	bad := &storage.ValidationError{Field: "token", Problem: "is not a join token"}
	if len(parts) != 3 || parts[0] != joinTokenPrefix {
		return hash, nil, bad
	}
	secret, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	pin, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(secret) != 32 || len(pin) != pinLen {
		return hash, nil, bad
	}
	return sha256.Sum256(secret), pin, nil
}

func tokenPin(token string) ([]byte, error) {
	_, pin, err := parseToken(token)
	return pin, err
}

type joinTokenRecord struct {
	// Role is what the token admits; tokens minted before roles admit
	// plants.
	Role      pki.Role   `json:"role,omitempty"`
	ExpiresAt time.Time  `json:"expires_at"`
	CreatedBy string     `json:"created_by"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	UsedBy    string     `json:"used_by,omitempty"`
}

func (f *federation) CreateJoinToken(ctx context.Context, a web.Actor, ttl time.Duration, roleName string) (web.JoinToken, error) {
	n := f.n
	role, err := pki.ParseRole(roleName)
	if err != nil {
		return web.JoinToken{}, validation("role", "must be voter or plant")
	}
	if f.ca == nil || f.ca.Key == nil {
		return web.JoinToken{}, validation("node", "this node does not hold the federation CA's key: mint the token on a headquarters voter")
	}
	if s := n.raft.Suffrage(); s != "voter" {
		return web.JoinToken{}, validation("node", "join tokens are minted on a voter; this node is "+orNone(s))
	}
	token, hash, err := newJoinToken(f.ca)
	if err != nil {
		return web.JoinToken{}, fmt.Errorf("mint join token: %w", err)
	}
	rec := joinTokenRecord{Role: role, ExpiresAt: n.now().UTC().Add(ttl), CreatedBy: actorID(a)}
	b, _ := json.Marshal(rec)
	if err := n.store.SetMeta(ctx, metaJoinTokenPre+hex.EncodeToString(hash[:]), string(b)); err != nil {
		return web.JoinToken{}, fmt.Errorf("store join token: %w", err)
	}
	return web.JoinToken{Token: token, Role: string(role), ExpiresAt: rec.ExpiresAt, Server: n.URL()},
		n.audit(ctx, actorID(a), "cluster.token.create", hex.EncodeToString(hash[:8]), map[string]any{"expires_at": rec.ExpiresAt, "role": role})
}

func orNone(s string) string {
	if s == "" {
		return "not in the cluster"
	}
	return "a " + s
}

// errBadToken is all a caller learns about a token that does not work.
var errBadToken = fmt.Errorf("join token is unknown, used or expired: %w", storage.ErrUnauthenticated)

func (f *federation) Join(ctx context.Context, req web.JoinRequest) (web.JoinResponse, error) {
	n := f.n
	hash, _, err := parseToken(req.Token)
	if err != nil {
		return web.JoinResponse{}, errBadToken
	}
	if !validNodeID(req.NodeID) {
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
	f.mu.Lock()
	if f.redeeming[key] {
		f.mu.Unlock()
		return web.JoinResponse{}, errBadToken
	}
	f.redeeming[key] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.redeeming, key)
		f.mu.Unlock()
	}()
	raw, err := n.meta(ctx, key)
	if err != nil {
		return web.JoinResponse{}, err
	}
	var rec joinTokenRecord
	if raw == "" || json.Unmarshal([]byte(raw), &rec) != nil || rec.UsedAt != nil || !n.now().Before(rec.ExpiresAt) {
		return web.JoinResponse{}, errBadToken
	}
	role := rec.Role
	if role == "" {
		role = pki.RolePlant
	}
	if req.Voter && role != pki.RoleVoter {
		return web.JoinResponse{}, validation("voter", "this join token admits a plant, not a voter: mint a voter token")
	}
	if err := n.checkNewNode(ctx, req.NodeID, req.RaftAddr); err != nil {
		return web.JoinResponse{}, err
	}

	resp := web.JoinResponse{OrgID: n.orgID, CACert: string(f.ca.CertPEM), LeafURL: n.LeafURL(), Role: string(role)}
	if req.CSR != "" {
		cert, err := f.ca.Sign([]byte(req.CSR), req.NodeID, role)
		if err != nil {
			return web.JoinResponse{}, validation("csr", err.Error())
		}
		resp.Cert = string(cert)
		if role == pki.RoleVoter {
			k, err := f.ca.KeyPEM()
			if err != nil {
				return web.JoinResponse{}, err
			}
			resp.CAKey = string(k)
		}
	}
	// Every node joins as a non-voter; a voter asks to vote once it
	// serves (becomeVoter), when the leader can check that it answers.
	if err := n.raft.AddNonvoter(ctx, req.NodeID, req.RaftAddr); err != nil {
		return web.JoinResponse{}, fmt.Errorf("add node %s to the cluster: %w", req.NodeID, err)
	}
	now := n.now().UTC()
	rec.UsedAt, rec.UsedBy = &now, req.NodeID
	b, _ := json.Marshal(rec)
	if err := n.store.SetMeta(ctx, key, string(b)); err != nil {
		return web.JoinResponse{}, fmt.Errorf("burn join token: %w", err)
	}
	return resp, n.audit(ctx, "system", "cluster.join", req.NodeID,
		map[string]any{"raft_addr": req.RaftAddr, "site": req.Site, "role": role})
}

// checkNewNode refuses a node id or a Raft address already in the
// federation: a second node of that id would get a certificate in its name
// and take over its place in the configuration.
func (n *Node) checkNewNode(ctx context.Context, id, addr string) error {
	srvs, err := n.raft.Servers(ctx)
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

func (f *federation) Status(ctx context.Context) (web.ClusterStatus, error) {
	n := f.n
	servers, err := n.raft.Servers(ctx)
	if err != nil {
		return web.ClusterStatus{}, err
	}
	local := n.raft.Stats()
	st := web.ClusterStatus{NodeID: n.nodeID, LeaderID: local.LeaderID}
	if f.ca != nil {
		fp := f.ca.Fingerprint()
		st.CAFingerprint = hex.EncodeToString(fp[:])
		st.Self.CanMintTokens = f.ca.Key != nil && n.raft.Suffrage() == "voter"
	}
	histories := n.askHistoryStatus(ctx, servers)
	stats := make([]raft.Stats, len(servers))
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		if s.ID == n.nodeID {
			stats[i] = local
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			stats[i], errs[i] = n.raft.PeerStats(c, s.Address)
		}()
	}
	wg.Wait()
	hist := histories()
	leaderLast := local.LastIndex
	for i, s := range servers {
		if s.ID == local.LeaderID && errs[i] == nil {
			leaderLast = stats[i].LastIndex
		}
	}
	for i, s := range servers {
		cn := web.ClusterNode{ID: s.ID, Address: s.Address, Voter: s.Voter, Leader: s.ID == local.LeaderID, Link: "up"}
		switch {
		case cn.Leader:
			cn.Role = "leader"
		case s.Voter:
			cn.Role = "voter"
		default:
			cn.Role = "nonvoter"
		}
		if s.ID == n.nodeID {
			cn.Link = "self"
		}
		if errs[i] != nil {
			cn.Link, cn.Error = "down", errs[i].Error()
		} else {
			ps := stats[i]
			cn.Site, cn.State, cn.AppliedIndex = ps.Site, ps.State, ps.AppliedIndex
			if leaderLast > ps.AppliedIndex {
				cn.Lag = leaderLast - ps.AppliedIndex
			}
			if !ps.LastContact.IsZero() {
				lc := ps.LastContact.UTC()
				cn.LastContact = &lc
			}
			historyStatus(&cn, hist[i])
		}
		st.Nodes = append(st.Nodes, cn)
	}
	return st, nil
}

func (f *federation) TransferLeadership(ctx context.Context, a web.Actor, id string) error {
	if err := f.n.raft.TransferLeadership(ctx, id); err != nil {
		return err
	}
	return f.n.audit(ctx, actorID(a), "cluster.leader.transfer", id, nil)
}

func (f *federation) RemoveNode(ctx context.Context, a web.Actor, id string) error {
	if _, err := f.n.raftServer(ctx, id); err != nil {
		return err
	}
	if err := f.n.raft.RemoveServer(ctx, id); err != nil {
		return err
	}
	return f.n.audit(ctx, actorID(a), "cluster.node.remove", id, nil)
}

func (n *Node) raftServer(ctx context.Context, id string) (raft.Server, error) {
	srvs, err := n.raft.Servers(ctx)
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

// Types of the cluster API, for the CLI.
type (
	ClusterStatus = web.ClusterStatus
	JoinToken     = web.JoinToken
)
