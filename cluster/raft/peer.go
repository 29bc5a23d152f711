package raft

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	hraft "github.com/hashicorp/raft"

	"siteline/cluster/pki"
	"siteline/storage"
)

// Who may ask what over the forwarding RPC. The mutual TLS handshake has
// proven the peer holds a certificate of the federation's CA; the role in
// that certificate (pki.Role) says what it may ask for. A plant forwards
// its users' changes to organisation data, asks for reads and status, and
// may leave; it may not change the membership or the leadership, nor the
// organisation's or another site's identity. A voter may ask for anything.

// PermVoter is the permission a refused peer lacks: a voter's certificate.
const PermVoter = "federation_voter"

// peer is the node at the other end of an RPC connection.
type peer struct {
	id   string   // its certificate's common name
	role pki.Role // its certificate's role; "" when it names none
	tls  bool     // false on a plain TCP transport (a standalone node)
}

func peerOf(c net.Conn) peer {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return peer{}
	}
	p := peer{tls: true}
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		p.id, p.role = certs[0].Subject.CommonName, pki.RoleOf(certs[0])
	}
	return p
}

// isVoter tells a voter. A certificate that names no role (one's own PKI,
// or one issued before roles) counts as a voter's when its node is a voter
// in the Raft configuration.
func (n *Node) isVoter(p peer) bool {
	switch {
	case !p.tls:
		return true // plain TCP: a standalone node on loopback, no peers
	case p.role != "":
		return p.role == pki.RoleVoter
	}
	srvs, err := n.Servers(context.Background())
	if err != nil {
		return false
	}
	for _, s := range srvs {
		if s.ID == p.id {
			return s.Voter
		}
	}
	return false
}

// authorize refuses a request the peer has no business sending.
func (n *Node) authorize(ctx context.Context, p peer, req rpcRequest) error {
	if n.isVoter(p) {
		return nil
	}
	refuse := func(what string) error {
		return fmt.Errorf("%s: node %s holds a plant certificate: only headquarters voters may: %w",
			what, p.id, &storage.ForbiddenError{Permission: PermVoter})
	}
	switch req.Kind {
	case rpcStats, rpcReadIndex:
		return nil
	case rpcRemove:
		if req.ID != "" && req.ID == p.id {
			return nil // a plant may leave
		}
		return refuse("remove node " + req.ID)
	case rpcAddVoter, rpcAddNonvoter:
		return refuse("add node " + req.ID)
	case rpcTransfer:
		return refuse("transfer leadership")
	case rpcPropose:
		if req.Command == nil {
			return nil // answered as invalid
		}
		for _, ch := range req.Command.Changes {
			switch ch.Op {
			case storage.OpPutOrg:
				return refuse("change the organisation")
			case storage.OpPutSite:
				// A plant adds its own site; it does not rename or move
				// one that exists.
				if ch.Site == nil {
					continue
				}
				if _, err := n.fsm.store.Site(ctx, ch.Site.ID); err == nil {
					return refuse("change site " + ch.Site.ID)
				} else if !errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("check site %s: %w", ch.Site.ID, err)
				}
			}
		}
		return nil
	}
	return refuse(string(req.Kind))
}

// probeTimeout bounds the check that a new voter answers.
const probeTimeout = 5 * time.Second

// probe checks that node id answers at addr over the transport (with
// mutual TLS when the transport has it) and says it is id; a certificate
// of the federation's CA (one that names a role) must also be in id's name
// and not a plant's. A voter that cannot be reached would count towards
// the quorum at once and could cost the cluster its majority; one in
// another name would be an impostor.
func (n *Node) probe(ctx context.Context, id, addr string) error {
	bad := func(err error) error {
		return &storage.ValidationError{Field: "raft_addr", Problem: fmt.Sprintf(
			"%s: node %s cannot be reached there over the Raft transport, so it is not added as a voter: %v", addr, id, err)}
	}
	n.mu.Lock()
	sl := n.stream
	n.mu.Unlock()
	if sl == nil {
		return fmt.Errorf("%w: raft not started", storage.ErrFederationUnreachable)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	c, err := sl.open(ctx, addr, muxRPC)
	if err != nil {
		return bad(err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if p := peerOf(c); p.role != "" {
		if p.id != id {
			return bad(fmt.Errorf("it presents the certificate of node %q", p.id))
		}
		if p.role == pki.RolePlant {
			return bad(errors.New("it holds a plant certificate"))
		}
	}
	if err := json.NewEncoder(c).Encode(rpcRequest{Kind: rpcStats, Timeout: probeTimeout}); err != nil {
		return bad(err)
	}
	var resp rpcResponse
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return bad(fmt.Errorf("no answer: %w", err))
	}
	if resp.Stats == nil || resp.Stats.NodeID != id {
		return bad(errors.New("another node answers there"))
	}
	return nil
}

// addVoter adds server id at addr as a voter once it has answered there.
func (n *Node) addVoter(ctx context.Context, r *hraft.Raft, id, addr string, timeout time.Duration) hraft.Future {
	if err := n.probe(ctx, id, addr); err != nil {
		return failed{err}
	}
	return r.AddVoter(hraft.ServerID(id), hraft.ServerAddress(addr), 0, timeout)
}

// failed is a change refused before it reached Raft.
type failed struct{ err error }

func (f failed) Error() error { return f.err }
