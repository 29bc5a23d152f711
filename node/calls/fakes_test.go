package calls

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/storage"
)

// fakeStore is the site store in memory: what Store declares, no more.
type fakeStore struct {
	mu           sync.Mutex
	sessions     map[string]storage.Session
	participants map[string][]storage.SessionParticipant // by session
	events       map[string][]storage.SessionEvent       // by session
	guests       map[string]storage.Guest
	users        map[string]storage.User
	webEnded     []string // users whose web sessions were deleted
}

func newFakeStore() *fakeStore {
	return &fakeStore{sessions: map[string]storage.Session{}, participants: map[string][]storage.SessionParticipant{},
		events: map[string][]storage.SessionEvent{}, guests: map[string]storage.Guest{}, users: map[string]storage.User{}}
}

var _ Store = (*fakeStore)(nil)

func (f *fakeStore) SetSessionOwner(ctx context.Context, sessionID, ownerID string, ev storage.SessionEvent) error {
	f.mu.Lock()
	s, ok := f.sessions[sessionID]
	if ok {
		s.OwnerID = ownerID
		f.sessions[sessionID] = s
	}
	f.mu.Unlock()
	if !ok {
		return storage.ErrNotFound
	}
	return f.AppendSessionEvent(ctx, ev)
}

func (f *fakeStore) RevealParticipant(ctx context.Context, _ string, ev storage.SessionEvent) error {
	return f.AppendSessionEvent(ctx, ev)
}

func (f *fakeStore) Session(_ context.Context, id string) (storage.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	if !ok {
		return s, fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	return s, nil
}

func (f *fakeStore) OwnedSessions(_ context.Context, orgID, ownerID, kind string) ([]storage.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.Session
	for _, s := range f.sessions {
		if s.OrgID == orgID && s.CreatedBy == ownerID && s.Kind == kind && s.Status != storage.SessionEnded {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b storage.Session) int { return b.StartedAt.Compare(a.StartedAt) })
	return out, nil
}

func (f *fakeStore) CountOwnedSessions(ctx context.Context, orgID, ownerID, kind string) (int, error) {
	open, err := f.OwnedSessions(ctx, orgID, ownerID, kind)
	return len(open), err
}

func (f *fakeStore) SessionGuests(_ context.Context, sessionID string) ([]storage.Guest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.Guest
	for _, g := range f.guests {
		if g.SessionID == sessionID {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b storage.Guest) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (f *fakeStore) SessionEvents(_ context.Context, sessionID string) ([]storage.SessionEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events[sessionID]), nil
}

func (f *fakeStore) AppendSessionEvent(_ context.Context, ev storage.SessionEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events[ev.SessionID] = append(f.events[ev.SessionID], ev)
	return nil
}

func (f *fakeStore) CreateSession(_ context.Context, s storage.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[s.ID] = s
	return nil
}

func (f *fakeStore) ListSessions(_ context.Context, flt storage.SessionFilter) ([]storage.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.Session
	for _, s := range f.sessions {
		if s.OrgID == flt.OrgID && (flt.SiteID == "" || s.SiteID == flt.SiteID) && (flt.Status == "" || s.Status == flt.Status) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeStore) SessionParticipants(_ context.Context, sessionID string) ([]storage.SessionParticipant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.participants[sessionID]), nil
}

func (f *fakeStore) RecordJoin(_ context.Context, p storage.SessionParticipant, ev storage.SessionEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.participants[p.SessionID] = append(f.participants[p.SessionID], p)
	f.events[ev.SessionID] = append(f.events[ev.SessionID], ev)
	return nil
}

func (f *fakeStore) RecordLeave(_ context.Context, participantID string, at time.Time, ev storage.SessionEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := f.participants[ev.SessionID]
	i := slices.IndexFunc(ps, func(p storage.SessionParticipant) bool { return p.ID == participantID })
	if i < 0 {
		return fmt.Errorf("participant %s: %w", participantID, storage.ErrNotFound)
	}
	ps[i].LeftAt = &at
	f.events[ev.SessionID] = append(f.events[ev.SessionID], ev)
	return nil
}

func (f *fakeStore) AnswerSession(_ context.Context, ev storage.SessionEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[ev.SessionID]
	if s.Status != storage.SessionRinging {
		return fmt.Errorf("answer %s: %w", s.ID, storage.ErrConflict)
	}
	s.Status = storage.SessionActive
	f.sessions[s.ID] = s
	f.events[ev.SessionID] = append(f.events[ev.SessionID], ev)
	return nil
}

func (f *fakeStore) EndSession(_ context.Context, sessionID string, at time.Time, ev storage.SessionEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[sessionID]
	switch {
	case !ok:
		return fmt.Errorf("end %s: %w", sessionID, storage.ErrNotFound)
	case s.Status == storage.SessionEnded:
		return fmt.Errorf("end %s: %w", sessionID, storage.ErrConflict)
	}
	s.Status, s.EndedAt = storage.SessionEnded, &at
	f.sessions[sessionID] = s
	f.events[sessionID] = append(f.events[sessionID], ev)
	return nil
}

func (f *fakeStore) AddRecording(_ context.Context, _ storage.Recording, ev storage.SessionEvent) error {
	return f.AppendSessionEvent(context.Background(), ev)
}

func (f *fakeStore) User(_ context.Context, id string) (storage.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return u, fmt.Errorf("user %s: %w", id, storage.ErrNotFound)
	}
	return u, nil
}

func (f *fakeStore) Guest(_ context.Context, id string) (storage.Guest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.guests[id]
	if !ok {
		return g, fmt.Errorf("guest %s: %w", id, storage.ErrNotFound)
	}
	return g, nil
}

func (f *fakeStore) DeleteUserWebSessions(_ context.Context, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.webEnded = append(f.webEnded, userID)
	return nil
}

// status returns a session's status.
func (f *fakeStore) status(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[id].Status
}

// eventKinds returns the kinds of a session's events, in order.
func (f *fakeStore) eventKinds(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, ev := range f.events[id] {
		out = append(out, ev.Kind)
	}
	return out
}

// fakeSFU has a room for each call in occupied; it records the calls it
// was told to end.
type fakeSFU struct {
	mu       sync.Mutex
	occupied map[string]bool
	ended    map[string]string // reason by call
}

var _ SFU = (*fakeSFU)(nil)

func newFakeSFU() *fakeSFU { return &fakeSFU{occupied: map[string]bool{}, ended: map[string]string{}} }

func (f *fakeSFU) Join(context.Context, string, sfu.ParticipantInfo, func(signal.Message) error) (*sfu.Participant, error) {
	return nil, fmt.Errorf("join: %w", storage.ErrInvalid)
}

func (f *fakeSFU) Publish(context.Context, string, sfu.ParticipantInfo, string) (*sfu.Participant, string, error) {
	return nil, "", fmt.Errorf("publish: %w", storage.ErrInvalid)
}

func (f *fakeSFU) Play(context.Context, string, sfu.ParticipantInfo, string) (*sfu.Participant, string, error) {
	return nil, "", fmt.Errorf("play: %w", storage.ErrInvalid)
}

func (f *fakeSFU) Room(id string) *sfu.Room {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.occupied[id] {
		return &sfu.Room{}
	}
	return nil
}

func (f *fakeSFU) End(id, reason string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended[id] = reason
	return true
}

func (f *fakeSFU) endReason(id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.ended[id]
	return r, ok
}

// fakeEnforcer grants the permissions listed per user.
type fakeEnforcer map[string][]string

func (e fakeEnforcer) Check(_, userID, permission string) error {
	if slices.Contains(e[userID], permission) {
		return nil
	}
	return &storage.ForbiddenError{Permission: permission}
}

// fakeTeams lists whom each supervisor reaches.
type fakeTeams map[string][]string

func (s fakeTeams) Supervisees(_ context.Context, _, supervisorID string) ([]string, error) {
	return s[supervisorID], nil
}

// audits records the audit events it is given.
type audits struct {
	mu      sync.Mutex
	actions []string
}

func (a *audits) Audit(_ context.Context, _, action, _ string, _ any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.actions = append(a.actions, action)
	return nil
}

// fixture is a call service over fakes, for organisation "org" and site
// "site", with a ring hub over the same store.
type fixture struct {
	store  *fakeStore
	sfu    *fakeSFU
	ring   *RingHub
	cs     *Service
	audits *audits
}

func newFixture(t *testing.T, grace time.Duration, grants fakeEnforcer, teams fakeTeams) *fixture {
	t.Helper()
	f := &fixture{store: newFakeStore(), sfu: newFakeSFU(), audits: &audits{}}
	f.ring = NewRingHub(f.store, nil, nil)
	f.cs = New(Deps{Context: t.Context(), Store: f.store, Enforcer: grants, Supervision: teams, Audit: f.audits,
		Ring: f.ring, Config: Config{OrgID: "org", SiteID: "site", EmptyCallGrace: grace, UnjoinedCallTTL: grace, MaxActiveCalls: 2}})
	f.cs.SetMedia(f.sfu, nil)
	t.Cleanup(func() {
		f.cs.StopEnding()
		f.cs.Wait()
	})
	return f
}

// call adds a session of kind owned by owner with status.
func (f *fixture) call(id, kind, owner, status string) storage.Session {
	s := storage.Session{ID: id, OrgID: "org", SiteID: "site", Kind: kind, Name: "Pump " + id, Status: status,
		CreatedBy: owner, StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	_ = f.store.CreateSession(context.Background(), s)
	return s
}

// joinRow adds a participant row of userID to call id.
func (f *fixture) joinRow(id, userID string, hidden bool) {
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	f.store.participants[id] = append(f.store.participants[id], storage.SessionParticipant{
		ID: fmt.Sprintf("%s-p%d", id, len(f.store.participants[id])), SessionID: id, UserID: userID, Hidden: hidden})
}

func sfuInfo(id, userID string) sfu.ParticipantInfo {
	return sfu.ParticipantInfo{ID: id, UserID: userID, Name: userID}
}

func (f *fakeSFU) Broadcast(string, signal.Message) bool { return false }
