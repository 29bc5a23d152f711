// Package federation is the membership of a node in its federation: the
// certificates of the federation's own CA, joining through a voter with a
// one-time join token, minting and redeeming those tokens, and the
// cluster's status, leadership transfer and removal of nodes (web.Cluster).
//
// Every node's Raft transport (and the forwarding RPC that shares its
// listener) is mutual TLS with certificates of the federation's own CA. A
// node that forms a cluster (the first start of any node that is not
// joining) creates that CA in DATA/pki; a node that joins sends a
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
package federation

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"siteline/cluster/pki"
	"siteline/node/apiclient"
	"siteline/storage"
	"siteline/web"
)

const (
	// MetaLeafURL keeps the headquarters leaf URL a plant learnt when it
	// joined (nats.leaf_remotes overrides it).
	MetaLeafURL = "federation_leaf_url"
	// MetaLeafNode keeps the id of the voter whose leaf URL that is: the
	// plant follows the address it announces (storage.LeafAddress).
	MetaLeafNode     = "federation_leaf_node"
	metaJoined       = "federation_joined" // set once this node joined a federation
	metaJoinTokenPre = "join_token."       // + hex SHA-256 of a token's secret
	joinTokenPrefix  = "slj1"
	pinLen           = 16 // bytes of the CA fingerprint a token pins
)

// MetaStore is the node-local key-value table membership keeps its facts
// and join tokens in. Meta answers storage.ErrNotFound for a missing key.
type MetaStore interface {
	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
}

// Join says which voter to join, with which token.
type Join struct {
	// Server is the URL of a voter's HTTP API, such as https://hq:8443.
	Server string
	// Token is the join token minted on that voter.
	Token string
	// Voter insists on joining as a voter: the join is refused unless the
	// token admits one.
	Voter bool
	// Insecure skips the check of Server's HTTPS certificate. The CA
	// pinned in the token is checked regardless.
	Insecure bool
	// Fingerprint pins Server's HTTPS certificate by its SHA-256
	// fingerprint (apiclient.Trust), such as a node's self-signed one.
	Fingerprint string
}

// PrepareConfig is what Prepare needs.
type PrepareConfig struct {
	NodeID  string
	Site    string
	OrgName string // the name of a new federation CA
	// Dir is the node's PKI folder (DATA/pki): a new CA is saved there and
	// a CA key is read from there.
	Dir string
	// Files are the node's certificate files; BYO says they are the
	// operator's own (cluster.ca_file...), so none are written.
	Files pki.Files
	BYO   bool
	// RaftListen and RaftAdvertise are the Raft transport's addresses; a
	// joining node listens early to name its address to the voter.
	RaftListen    string
	RaftAdvertise string
	// Join, when not nil, makes a node that has not joined yet join.
	Join   *Join
	Store  MetaStore
	Logger *slog.Logger
}

// Setup is what Prepare decides for Raft and for the membership.
type Setup struct {
	TLS       *tls.Config
	Listener  net.Listener // opened early by a joining node; nil otherwise
	Bootstrap bool
	// Joined says this node joined rather than formed the cluster.
	Joined bool
	// FirstJoin is the org id this node has just joined; "" otherwise.
	FirstJoin string
	// JoinRole is the role it has just joined in.
	JoinRole pki.Role
	// CA is the federation CA (with its key on nodes that can sign).
	CA *pki.CA
	// Role is what this node's certificate names; "" for none.
	Role pki.Role
}

// Prepare makes sure this node has its certificates, joining the
// federation first when asked to and not done yet.
func Prepare(ctx context.Context, c PrepareConfig) (rs Setup, err error) {
	joined, err := meta(ctx, c.Store, metaJoined)
	if err != nil {
		return rs, err
	}
	rs.Joined = joined != ""
	switch {
	case !rs.Joined && c.Join != nil:
		if rs.Listener, err = net.Listen("tcp", c.RaftListen); err != nil {
			return rs, fmt.Errorf("raft listen %s: %w", c.RaftListen, err)
		}
		if rs.FirstJoin, rs.JoinRole, err = join(ctx, c, rs.Listener); err != nil {
			rs.Listener.Close()
			return rs, fmt.Errorf("join federation at %s: %w", c.Join.Server, err)
		}
		rs.Joined = true
	case !c.Files.Exists() && !c.BYO && !rs.Joined:
		if err := createPKI(c); err != nil {
			return rs, err
		}
	}
	caKey := ""
	if !c.BYO {
		caKey = filepath.Join(c.Dir, pki.CAKeyFile)
	}
	if rs.CA, err = pki.LoadCA(c.Files.CA, caKey); err != nil {
		return rs, err
	}
	if rs.TLS, err = c.Files.TLSConfig(); err != nil {
		return rs, err
	}
	if rs.Role, err = pki.CertRole(c.Files.Cert); err != nil {
		return rs, err
	}
	rs.Bootstrap = !rs.Joined
	return rs, nil
}

// createPKI makes this node the root of a federation: a new CA and this
// node's certificate signed by it.
func createPKI(c PrepareConfig) error {
	ca, err := pki.NewCA(c.OrgName)
	if err != nil {
		return err
	}
	if err := ca.Save(c.Dir); err != nil {
		return err
	}
	key, csr, err := pki.NewKey(c.NodeID)
	if err != nil {
		return err
	}
	cert, err := ca.Sign(csr, c.NodeID, pki.RoleVoter)
	if err != nil {
		return err
	}
	if err := c.Files.WriteNode(ca.CertPEM, cert, key); err != nil {
		return err
	}
	c.Logger.Info("federation CA created", "dir", c.Dir)
	return nil
}

// join redeems the join token at the voter and keeps what it answers.
func join(ctx context.Context, c PrepareConfig, ln net.Listener) (string, pki.Role, error) {
	j := c.Join
	pin, err := tokenPin(j.Token)
	if err != nil {
		return "", "", err
	}
	advertise := c.RaftAdvertise
	if advertise == "" {
		advertise = ln.Addr().String()
	}
	req := web.JoinRequest{Token: j.Token, NodeID: c.NodeID, RaftAddr: advertise, Site: c.Site, Voter: j.Voter}
	var keyPEM []byte
	if !c.BYO {
		var csr []byte
		if keyPEM, csr, err = pki.NewKey(c.NodeID); err != nil {
			return "", "", err
		}
		req.CSR = string(csr)
	}
	var resp web.JoinResponse
	cl, err := apiclient.Remote(j.Server, "", apiclient.Trust{Insecure: j.Insecure, Fingerprint: j.Fingerprint})
	if err != nil {
		return "", "", err
	}
	if err := cl.Do(ctx, http.MethodPost, "/cluster/join", req, &resp); err != nil {
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
	if !c.BYO {
		if err := c.Files.WriteNode([]byte(resp.CACert), []byte(resp.Cert), keyPEM); err != nil {
			return "", "", err
		}
		if resp.CAKey != "" {
			if err := os.WriteFile(filepath.Join(c.Dir, pki.CAKeyFile), []byte(resp.CAKey), 0o600); err != nil {
				return "", "", fmt.Errorf("store CA key: %w", err)
			}
		}
	}
	for k, v := range map[string]string{metaJoined: j.Server, "org_id": resp.OrgID, MetaLeafURL: resp.LeafURL, MetaLeafNode: resp.NodeID} {
		if err := c.Store.SetMeta(ctx, k, v); err != nil {
			return "", "", err
		}
	}
	c.Logger.Info("joined federation", "server", j.Server, "org_id", resp.OrgID, "role", role, "raft_addr", advertise)
	return resp.OrgID, role, nil
}

// Starter is what AfterStart asks of the node's Raft.
type Starter interface {
	WaitLeader(ctx context.Context) error
	Suffrage() string
	Addr() string
	AddVoter(ctx context.Context, id, addr string) error
}

// OrgStore tells whether an organisation's data has arrived.
type OrgStore interface {
	Org(ctx context.Context, id string) (storage.Org, error)
}

// AfterStart waits for what the node needs before it serves: a leader on a
// node that formed the cluster; the organisation's data on a node that has
// just joined. A joined node that restarts serves from its copy at once,
// leader or not: a plant must come up during an outage.
func AfterStart(ctx context.Context, rs Setup, nodeID string, r Starter, orgs OrgStore, log *slog.Logger) error {
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch {
	case rs.FirstJoin != "":
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := orgs.Org(wait, rs.FirstJoin); err == nil {
				return becomeVoter(wait, rs.JoinRole, nodeID, r, log)
			}
			select {
			case <-wait.Done():
				return fmt.Errorf("joined, but the organisation's data did not arrive: %w", wait.Err())
			case <-tick.C:
			}
		}
	case rs.Bootstrap:
		if err := r.WaitLeader(wait); err != nil {
			return fmt.Errorf("raft: no leader elected: %w", err)
		}
	case rs.Role == pki.RoleVoter && r.Suffrage() == "nonvoter":
		// A voter that did not get to vote when it joined asks again; it
		// serves either way.
		try, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := r.WaitLeader(try)
		if err == nil {
			err = becomeVoter(try, pki.RoleVoter, nodeID, r, log)
		}
		if err != nil {
			log.Warn("federation: this voter is still a non-voter; it asks again at its next start", "err", err)
		}
	}
	return nil
}

// becomeVoter makes a node that has just joined as a voter one, now that
// it serves and the leader can check it answers.
func becomeVoter(ctx context.Context, role pki.Role, nodeID string, r Starter, log *slog.Logger) error {
	if role != pki.RoleVoter {
		return nil
	}
	if err := r.AddVoter(ctx, nodeID, r.Addr()); err != nil {
		return fmt.Errorf("joined as a non-voter; becoming a voter failed: %w", err)
	}
	log.Info("federation: this node is now a voter")
	return nil
}

// meta reads a key of the meta table, "" when it is not there.
func meta(ctx context.Context, s MetaStore, key string) (string, error) {
	v, err := s.Meta(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	return v, err
}

// ValidNodeID reports whether id may name a node: letters, digits, '-'
// and '_', at most 64 of them.
func ValidNodeID(id string) bool {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return len(id) > 0 && len(id) <= 64
}
