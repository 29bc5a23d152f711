// Package queue is the team queues of service requests and the members'
// auto-assign switch (SPEC.md section 4).
//
// A service request made for a team waits in the team's queue. The
// dispatcher offers it, one member at a time, to the team's members who
// are available (a backoffice page open on this node, not in a call),
// hold xa_sup_auto-assign and have auto-assign on, in the team's order
// (round-robin or longest-idle). An offer is the ring's incoming-call
// event on the member's pages; one not taken within the offer timeout, or
// declined, moves to the next member. A member takes a request by joining
// its call. A request nobody takes stays in the queue, listed for the
// team and joinable, until its call ends.
//
// The queue is site data, in the store before the guest's request is
// answered; the dispatcher keeps no state of its own but a lock, so a
// node that restarts resumes offering from the store. Auto-assign and the
// team's strategy are organisation data, proposed through the replicated
// log.
package queue

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"siteline/storage"
	"siteline/web"
)

// Store is what the queues read and write of the node's stores.
type Store interface {
	AutoAssignOff(ctx context.Context, orgID string) ([]storage.AutoAssign, error)
	TeamQueues(ctx context.Context, orgID string) ([]storage.TeamQueue, error)
	Enqueue(ctx context.Context, e storage.QueueEntry, ev storage.SessionEvent) error
	QueueEntries(ctx context.Context, teamID string) ([]storage.QueueEntry, error)
	UpdateQueueEntry(ctx context.Context, e storage.QueueEntry, ev storage.SessionEvent, rot *storage.QueueRotation) error
	Dequeue(ctx context.Context, sessionID, assignee string, ev *storage.SessionEvent) error
	QueueRotations(ctx context.Context) ([]storage.QueueRotation, error)

	Session(ctx context.Context, id string) (storage.Session, error)
	SessionGuests(ctx context.Context, sessionID string) ([]storage.Guest, error)
	User(ctx context.Context, id string) (storage.User, error)
	Team(ctx context.Context, id string) (storage.Team, error)
	Teams(ctx context.Context, orgID string) ([]storage.Team, error)
	TeamMembers(ctx context.Context, teamID string) ([]storage.TeamMembership, error)
}

// Proposer commits organisation changes through the replicated log.
type Proposer interface {
	Propose(ctx context.Context, cmd storage.Command) error
}

// Enforcer checks a user's permission (*policy.Enforcer).
type Enforcer interface {
	Check(orgID, userID, permission string) error
}

// Supervision tells whom a supervisor's teams reach (org.Service).
type Supervision interface {
	Supervisees(ctx context.Context, orgID, supervisorID string) ([]string, error)
}

// Auditor appends to the audit log; the event is on disk when it returns.
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, detail any) error
}

// Presence tells whether a user may be offered a request now: a
// backoffice page open on this node and not in a call.
type Presence interface {
	Available(orgID, userID string) bool
}

// Pages delivers events to a user's open pages on this node (the ring).
type Pages interface {
	Publish(userID string, e web.Event)
}

// Config is the queues' settings.
type Config struct {
	// Strategy (queue.strategy) is the order of a team that set none.
	Strategy string
	// OfferTimeout (queue.offer_timeout) is how long an offer waits for
	// the member before it moves on.
	OfferTimeout time.Duration
	// Rescan is how often the dispatcher looks again for members who
	// became available (1s when zero).
	Rescan time.Duration
}

// Deps is what a Service is built from; all but Log and Now are required.
type Deps struct {
	Store       Store
	Proposer    Proposer
	Enforcer    Enforcer
	Supervision Supervision
	Audit       Auditor
	Presence    Presence
	Pages       Pages
	Now         func() time.Time
	Log         *slog.Logger
	NewID       func() string
}

// Change is what an observer is told: a team's queue changed (TeamID set)
// or a user's auto-assign (UserID set).
type Change struct {
	OrgID  string
	TeamID string
	UserID string
	// AutoAssignOff is the user's new switch when UserID is set.
	AutoAssignOff bool
}

// Service is the team queues and the auto-assign switch.
type Service struct {
	d   Deps
	cfg Config

	// mu serialises the dispatcher's steps and the queue's changes: each
	// reads the store, decides and writes before the next reads.
	mu   sync.Mutex
	wake chan struct{}

	obsMu     sync.Mutex
	observers []func(Change)
}

// New builds the service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.Store == nil || d.Proposer == nil || d.Enforcer == nil || d.Supervision == nil || d.Audit == nil ||
		d.Presence == nil || d.Pages == nil || d.NewID == nil {
		return nil, errors.New("queue: Deps needs a Store, a Proposer, an Enforcer, Supervision, an Auditor, Presence, Pages and NewID")
	}
	if cfg.Strategy == "" {
		cfg.Strategy = storage.StrategyRoundRobin
	}
	if !storage.ValidStrategy(cfg.Strategy) {
		return nil, &storage.ValidationError{Field: "queue.strategy", Problem: "must be round-robin or longest-idle"}
	}
	if cfg.OfferTimeout <= 0 {
		cfg.OfferTimeout = 20 * time.Second
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d, cfg: cfg, wake: make(chan struct{}, 1)}, nil
}

// Observe registers f to be told of every change of a team's queue and of
// a user's auto-assign (the live dashboard). f runs on the goroutine that
// made the change and must not block.
func (s *Service) Observe(f func(Change)) {
	s.obsMu.Lock()
	s.observers = append(s.observers, f)
	s.obsMu.Unlock()
}

func (s *Service) notify(c Change) {
	s.obsMu.Lock()
	obs := append([]func(Change){}, s.observers...)
	s.obsMu.Unlock()
	for _, f := range obs {
		f(c)
	}
}

// Wake makes the dispatcher look at the queues now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Applied follows the replicated log (the node's apply hook): an
// auto-assign switched on any node is told to the observers here and may
// make a member eligible.
func (s *Service) Applied(cmd storage.Command) {
	for _, ch := range cmd.Changes {
		switch ch.Op {
		case storage.OpSetAutoAssign:
			a := ch.AutoAssign
			s.notify(Change{OrgID: a.OrgID, UserID: a.UserID, AutoAssignOff: a.Off})
			s.Wake()
		case storage.OpSetTeamQueue:
			s.Wake()
		}
	}
}
