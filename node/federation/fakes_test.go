package federation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"siteline/cluster/history"
	"siteline/cluster/raft"
	"siteline/storage"
)

// fakeRaft is a Raft configuration in memory.
type fakeRaft struct {
	mu       sync.Mutex
	suffrage string
	addr     string
	servers  []raft.Server
	stats    raft.Stats
	peers    map[string]raft.Stats // by address; missing ones do not answer
	leader   error                 // what WaitLeader answers
	refuse   error                 // what the changes answer
	calls    []string              // changes made, as "op id addr"
}

func (r *fakeRaft) Suffrage() string { return r.suffrage }
func (r *fakeRaft) Addr() string     { return r.addr }
func (r *fakeRaft) Stats() raft.Stats {
	return r.stats
}

func (r *fakeRaft) Servers(context.Context) ([]raft.Server, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]raft.Server(nil), r.servers...), nil
}

func (r *fakeRaft) PeerStats(_ context.Context, addr string) (raft.Stats, error) {
	if st, ok := r.peers[addr]; ok {
		return st, nil
	}
	return raft.Stats{}, fmt.Errorf("dial %s: connection refused", addr)
}

func (r *fakeRaft) WaitLeader(context.Context) error { return r.leader }

func (r *fakeRaft) change(op, id, addr string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return r.refuse
	}
	r.calls = append(r.calls, op+" "+id+" "+addr)
	switch op {
	case "nonvoter", "voter":
		r.servers = append(r.servers, raft.Server{ID: id, Address: addr, Voter: op == "voter"})
	case "remove":
		for i, s := range r.servers {
			if s.ID == id {
				r.servers = append(r.servers[:i], r.servers[i+1:]...)
				break
			}
		}
	}
	return nil
}

func (r *fakeRaft) AddNonvoter(_ context.Context, id, addr string) error {
	return r.change("nonvoter", id, addr)
}

func (r *fakeRaft) AddVoter(_ context.Context, id, addr string) error {
	return r.change("voter", id, addr)
}

func (r *fakeRaft) RemoveServer(_ context.Context, id string) error {
	return r.change("remove", id, "")
}

func (r *fakeRaft) TransferLeadership(_ context.Context, id string) error {
	return r.change("transfer", id, "")
}

func (r *fakeRaft) changes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// fakeStore is the meta table and the organisations in memory.
type fakeStore struct {
	mu   sync.Mutex
	meta map[string]string
	orgs map[string]bool
}

func newFakeStore() *fakeStore {
	return &fakeStore{meta: map[string]string{}, orgs: map[string]bool{}}
}

func (s *fakeStore) Meta(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.meta[key]
	if !ok {
		return "", storage.ErrNotFound
	}
	return v, nil
}

func (s *fakeStore) SetMeta(_ context.Context, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meta[key] = value
	return nil
}

func (s *fakeStore) Org(_ context.Context, id string) (storage.Org, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.orgs[id] {
		return storage.Org{}, storage.ErrNotFound
	}
	return storage.Org{ID: id}, nil
}

func (s *fakeStore) addOrg(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgs[id] = true
}

// fakeAudit keeps the events it is given.
type fakeAudit struct {
	mu     sync.Mutex
	events []string // "actor action target"
}

func (a *fakeAudit) Audit(_ context.Context, actor, action, target string, _ any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, actor+" "+action+" "+target)
	return nil
}

func (a *fakeAudit) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.events...)
}

// fakeHistory answers the statuses it holds; other nodes do not answer.
type fakeHistory map[string]history.Status

func (h fakeHistory) HistoryStatus(_ context.Context, id string) (history.Status, error) {
	if st, ok := h[id]; ok {
		return st, nil
	}
	return history.Status{}, errors.New("no answer")
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
