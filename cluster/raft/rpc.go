package raft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	hraft "github.com/hashicorp/raft"

	"siteline/storage"
)

// The forwarding RPC carries what only the leader can do (commit a command,
// change the membership, hand over leadership, vouch for a read) from
// another node to it, and lets any node ask another for its view (status).
// It runs over the Raft listener, behind the same mutual TLS (see
// transport.go): one JSON request and one JSON answer per connection.

type rpcKind string

const (
	rpcPropose     rpcKind = "propose"
	rpcAddVoter    rpcKind = "add_voter"
	rpcAddNonvoter rpcKind = "add_nonvoter"
	rpcRemove      rpcKind = "remove"
	rpcTransfer    rpcKind = "transfer"
	rpcStats       rpcKind = "stats"
	// rpcReadIndex asks the leader to run a barrier and answer its store's
	// applied index (ReadBarrier).
	rpcReadIndex rpcKind = "read_index"
)

// unanswered is what a request of this kind amounts to when it was sent
// and no answer came back: a change may have been carried out; a question
// did nothing.
func (k rpcKind) unanswered() error {
	switch k {
	case rpcStats, rpcReadIndex:
		return storage.ErrFederationUnreachable
	}
	return storage.ErrOutcomeUnknown
}

type rpcRequest struct {
	Kind    rpcKind          `json:"kind"`
	Command *storage.Command `json:"command,omitempty"`
	ID      string           `json:"id,omitempty"`
	Addr    string           `json:"addr,omitempty"`
	// Timeout is how long the caller waits, so the leader does not work
	// on after the caller gave up.
	Timeout time.Duration `json:"timeout"`
}

type rpcResponse struct {
	Error *rpcError `json:"error,omitempty"`
	Stats *Stats    `json:"stats,omitempty"`
	// Index is the log index of a proposed command, or the leader's
	// applied index after a read barrier.
	Index uint64 `json:"index,omitempty"`
}

// rpcError carries a domain error across the wire so that errors.Is still
// works on the caller's side.
type rpcError struct {
	Code       string `json:"code"` // not_found, conflict, invalid, forbidden, outcome_unknown, unreachable, not_leader, other
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	Problem    string `json:"problem,omitempty"`
	Permission string `json:"permission,omitempty"`
}

func encodeError(err error) *rpcError {
	if err == nil {
		return nil
	}
	e := &rpcError{Code: "other", Message: err.Error()}
	var ve *storage.ValidationError
	var fe *storage.ForbiddenError
	switch {
	case errors.As(err, &ve):
		e.Code, e.Field, e.Problem = "invalid", ve.Field, ve.Problem
	case errors.As(err, &fe):
		e.Code, e.Permission = "forbidden", fe.Permission
	case errors.Is(err, storage.ErrOutcomeUnknown): // before not_leader: never claim nothing was done
		e.Code = "outcome_unknown"
	case errors.Is(err, hraft.ErrNotLeader):
		e.Code = "not_leader"
	case errors.Is(err, storage.ErrFederationUnreachable):
		e.Code = "unreachable"
	case errors.Is(err, storage.ErrNotFound):
		e.Code = "not_found"
	case errors.Is(err, storage.ErrConflict):
		e.Code = "conflict"
	case errors.Is(err, storage.ErrInvalid):
		e.Code = "invalid"
	}
	return e
}

// errNotLeaderHere is what the leader-only RPCs answer on a node that is
// not (or no longer) the leader: nothing was done.
var errNotLeaderHere = fmt.Errorf("%w: %w", storage.ErrFederationUnreachable, hraft.ErrNotLeader)

func (e *rpcError) err(peer string) error {
	if e == nil {
		return nil
	}
	msg := fmt.Sprintf("at %s: %s", peer, e.Message)
	switch e.Code {
	case "invalid":
		if e.Field != "" {
			return &storage.ValidationError{Field: e.Field, Problem: e.Problem}
		}
		return fmt.Errorf("%s: %w", msg, storage.ErrInvalid)
	case "forbidden":
		return &refused{msg: msg, err: &storage.ForbiddenError{Permission: e.Permission}}
	case "not_found":
		return fmt.Errorf("%s: %w", msg, storage.ErrNotFound)
	case "conflict":
		return fmt.Errorf("%s: %w", msg, storage.ErrConflict)
	case "not_leader":
		return fmt.Errorf("%s: %w", msg, errNotLeaderHere)
	case "outcome_unknown":
		return fmt.Errorf("%s: %w", msg, storage.ErrOutcomeUnknown)
	case "unreachable":
		return fmt.Errorf("%s: %w", msg, storage.ErrFederationUnreachable)
	}
	return errors.New(msg)
}

// serveRPC answers one request on c.
func (n *Node) serveRPC(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	var req rpcRequest
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		return
	}
	timeout := min(max(req.Timeout, time.Second), time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var resp rpcResponse
	err := n.authorize(ctx, peerOf(c), req) // peer.go
	if err == nil {
		resp, err = n.answer(ctx, req, timeout)
	}
	resp.Error = encodeError(err)
	_ = c.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	_ = json.NewEncoder(c).Encode(resp)
}

// answer carries out a request the peer may make.
func (n *Node) answer(ctx context.Context, req rpcRequest, timeout time.Duration) (resp rpcResponse, err error) {
	switch req.Kind {
	case rpcPropose:
		if req.Command == nil {
			err = fmt.Errorf("propose: no command: %w", storage.ErrInvalid)
			break
		}
		resp.Index, err = n.proposeHere(ctx, *req.Command)
	case rpcAddVoter:
		err = n.leaderOnly(ctx, func(r *hraft.Raft) hraft.Future {
			return n.addVoter(ctx, r, req.ID, req.Addr, timeout)
		})
	case rpcAddNonvoter:
		err = n.leaderOnly(ctx, func(r *hraft.Raft) hraft.Future {
			return r.AddNonvoter(hraft.ServerID(req.ID), hraft.ServerAddress(req.Addr), 0, timeout)
		})
	case rpcRemove:
		err = n.leaderOnly(ctx, func(r *hraft.Raft) hraft.Future {
			return r.RemoveServer(hraft.ServerID(req.ID), 0, timeout)
		})
	case rpcTransfer:
		err = n.leaderOnly(ctx, func(r *hraft.Raft) hraft.Future {
			if req.ID != "" {
				return r.LeadershipTransferToServer(hraft.ServerID(req.ID), hraft.ServerAddress(req.Addr))
			}
			return r.LeadershipTransfer()
		})
	case rpcStats:
		st := n.Stats()
		resp.Stats = &st
	case rpcReadIndex:
		resp.Index, err = n.leaderIndex(ctx)
	default:
		err = fmt.Errorf("unknown request %q: %w", req.Kind, storage.ErrInvalid)
	}
	return resp, err
}

// leaderOnly runs a membership or leadership change if this node leads.
func (n *Node) leaderOnly(ctx context.Context, f func(*hraft.Raft) hraft.Future) error {
	r, err := n.running("membership change")
	if err != nil {
		return err
	}
	if r.State() != hraft.Leader {
		return errNotLeaderHere
	}
	return n.waitChange(ctx, "membership change", f(r))
}

// call sends one request to the node at addr and waits for its answer.
func (n *Node) call(ctx context.Context, addr string, req rpcRequest) (rpcResponse, error) {
	n.mu.Lock()
	sl := n.stream
	n.mu.Unlock()
	if sl == nil {
		return rpcResponse{}, fmt.Errorf("%w: raft not started", storage.ErrFederationUnreachable)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.ApplyTimeout+time.Second)
		defer cancel()
	}
	dl, _ := ctx.Deadline()
	req.Timeout = time.Until(dl)
	c, err := sl.open(ctx, addr, muxRPC)
	if err != nil {
		return rpcResponse{}, fmt.Errorf("%w: %w: dial %s: %w", storage.ErrFederationUnreachable, errNotSent, addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	// From here on the request may have reached the peer and been carried
	// out: the caller cannot know.
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return rpcResponse{}, fmt.Errorf("%w: send to %s: %w", req.Kind.unanswered(), addr, err)
	}
	var resp rpcResponse
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return rpcResponse{}, fmt.Errorf("%w: no answer from %s: %w", req.Kind.unanswered(), addr, err)
	}
	return resp, resp.Error.err(addr)
}

// rpcForwarder is the built-in Forwarder: it sends the command to the
// leader over the forwarding RPC.
type rpcForwarder struct{ n *Node }

func (f rpcForwarder) Forward(ctx context.Context, leaderID, leaderAddr string, cmd storage.Command) error {
	resp, err := f.n.call(ctx, leaderAddr, rpcRequest{Kind: rpcPropose, Command: &cmd})
	if err != nil {
		return fmt.Errorf("forward command to leader %s: %w", leaderID, err)
	}
	f.n.awaitLocal(ctx, resp.Index)
	return nil
}

// onLeader runs a leader-only request: here when this node leads, else on
// the leader over the RPC. Membership changes made here wait like Propose.
func (n *Node) onLeader(ctx context.Context, op string, req rpcRequest, here func(*hraft.Raft) hraft.Future) error {
	r, err := n.running(op)
	if err != nil {
		return err
	}
	if r.State() == hraft.Leader {
		if err := n.waitChange(ctx, op, here(r)); !errors.Is(err, hraft.ErrNotLeader) {
			return err
		}
	}
	addr, id := r.LeaderWithID()
	if id == "" {
		return fmt.Errorf("%s: %w: no raft leader", op, storage.ErrFederationUnreachable)
	}
	if !n.cfg.ForwardRPC {
		return fmt.Errorf("%s: %w: this node is not the leader", op, storage.ErrFederationUnreachable)
	}
	if _, err := n.call(ctx, string(addr), req); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// TransferLeadership hands leadership to server id (any voter when id is
// empty), from wherever it is asked.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	addr := ""
	if id != "" {
		srv, err := n.server(ctx, id)
		if err != nil {
			return err
		}
		addr = srv.Address
	}
	return n.onLeader(ctx, "transfer leadership", rpcRequest{Kind: rpcTransfer, ID: id, Addr: addr}, func(r *hraft.Raft) hraft.Future {
		if id != "" {
			return r.LeadershipTransferToServer(hraft.ServerID(id), hraft.ServerAddress(addr))
		}
		return r.LeadershipTransfer()
	})
}

// PeerStats asks the node at addr for its Stats.
func (n *Node) PeerStats(ctx context.Context, addr string) (Stats, error) {
	resp, err := n.call(ctx, addr, rpcRequest{Kind: rpcStats})
	if err != nil {
		return Stats{}, err
	}
	if resp.Stats == nil {
		return Stats{}, fmt.Errorf("stats of %s: empty answer", addr)
	}
	return *resp.Stats, nil
}

// Server is one member of the Raft configuration.
type Server struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
}

// Servers lists the cluster's members as this node knows them.
func (n *Node) Servers(ctx context.Context) ([]Server, error) {
	r, err := n.running("raft configuration")
	if err != nil {
		return nil, err
	}
	f := r.GetConfiguration()
	if err := n.wait(ctx, "raft configuration", f); err != nil {
		return nil, err
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == hraft.Voter})
	}
	return out, nil
}

func (n *Node) server(ctx context.Context, id string) (Server, error) {
	srvs, err := n.Servers(ctx)
	if err != nil {
		return Server{}, err
	}
	for _, s := range srvs {
		if s.ID == id {
			return s, nil
		}
	}
	return Server{}, fmt.Errorf("raft server %s: %w", id, storage.ErrNotFound)
}

// refused is a peer's refusal for want of a permission, told in the
// peer's words (which already name the permission).
type refused struct {
	msg string
	err *storage.ForbiddenError
}

func (r *refused) Error() string { return r.msg }
func (r *refused) Unwrap() error { return r.err }

// errNotSent marks a forwarding failure before the request left this node:
// the leader did nothing, so trying again is safe.
var errNotSent = errors.New("request not sent")
