package raft

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	hraft "github.com/hashicorp/raft"

	"siteline/storage"
)

// fsm applies committed commands to the local organisation store. Raft
// calls Apply, Snapshot and Restore from one goroutine, in log order; the
// FSMSnapshot's Persist runs concurrently with later Applies.
type fsm struct {
	store     storage.OrgStore
	onApply   func(storage.Command)
	onRestore func()
	// onHalt is called once, on the state-machine goroutine, when the
	// store fails to apply an entry for a reason of its own (I/O, not a
	// refusal); it must not block.
	onHalt func(error)
	log    *slog.Logger

	// halted is set after such a failure. Every later entry is then refused
	// without touching the store, and so are snapshots, so the log keeps
	// every entry the store lacks and a restart applies them in order: the
	// node stops rather than skip one entry and diverge.
	halted atomic.Pointer[error]

	// applied is the store's applied index as last seen by this goroutine:
	// log entries at or below it were applied before (a replay after a
	// restart) and are skipped without calling onApply again. It is atomic
	// only so Stats may read it. It is set through setApplied.
	applied atomic.Uint64
	// advanced, when a waitApplied is waiting, is closed (and cleared) the
	// next time applied moves.
	mu       sync.Mutex
	advanced chan struct{}

	// restores counts the snapshots restored into the store (Stats).
	restores atomic.Uint64
}

var _ hraft.FSM = (*fsm)(nil)

// ctx is the context of state-machine work. It is never cancelled: an
// entry must be applied the same way on every node whatever the caller of
// Propose does, and shutdown waits for the FSM rather than interrupting it.
func (f *fsm) ctx() context.Context { return context.Background() }

// Apply implements hraft.FSM. Its response is nil or the error the store
// returned; Propose hands it to the proposer as is.
func (f *fsm) Apply(l *hraft.Log) any {
	if l.Type != hraft.LogCommand {
		return nil
	}
	if l.Index <= f.applied.Load() {
		return nil // already in the store: a replay after a restart
	}
	if h := f.halted.Load(); h != nil {
		return fmt.Errorf("apply index %d: %w: state machine halted: %w", l.Index, storage.ErrFederationUnreachable, *h)
	}
	var cmd storage.Command
	if err := json.Unmarshal(l.Data, &cmd); err != nil {
		// Same bytes, same failure on every node; nothing to apply.
		return fmt.Errorf("decode command at index %d: %v: %w", l.Index, err, storage.ErrInvalid)
	}
	err := f.store.Apply(f.ctx(), l.Index, cmd)
	// The store advances its index whether the command succeeded or was
	// refused; it does not when the store itself failed (I/O), and then a
	// restart replays the entry.
	if err == nil {
		f.setApplied(l.Index)
		if f.onApply != nil {
			f.onApply(cmd)
		}
		return nil
	}
	if idx, ierr := f.store.AppliedIndex(f.ctx()); ierr == nil {
		f.setApplied(idx)
	}
	if !isRefusal(err) {
		f.halt(fmt.Errorf("store failed at index %d: %w", l.Index, err))
	}
	return err
}

// isRefusal tells a command the store refused (the same on every node) from
// a failure of the store itself.
func isRefusal(err error) bool {
	return errors.Is(err, storage.ErrInvalid) || errors.Is(err, storage.ErrConflict) ||
		errors.Is(err, storage.ErrNotFound)
}

// halt stops applying entries after a failure of the store itself.
func (f *fsm) halt(err error) {
	if f.halted.CompareAndSwap(nil, &err) {
		// Only the leader's proposer sees Apply's response; a follower
		// drops it, so this is where the failure is recorded.
		f.log.Error("raft: state machine halted; restart the node once the store is fixed", "err", err)
		if f.onHalt != nil {
			f.onHalt(err)
		}
	}
}

// Snapshot implements hraft.FSM. It dumps the store into memory now, so the
// snapshot is the state as of the last applied entry even though Persist
// runs while later entries are applied.
func (f *fsm) Snapshot() (hraft.FSMSnapshot, error) {
	if h := f.halted.Load(); h != nil {
		// A snapshot now would let Raft drop entries the store lacks.
		return nil, fmt.Errorf("snapshot: state machine halted: %w", *h)
	}
	var buf bytes.Buffer
	if err := f.store.Snapshot(f.ctx(), &buf); err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	return &fsmSnapshot{data: buf.Bytes()}, nil
}

// Restore implements hraft.FSM: it replaces the store's content with a
// snapshot (a follower too far behind the leader's log, or a user restore).
// With NoSnapshotRestoreOnStart it is not called at start.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(f.ctx(), rc); err != nil {
		return fmt.Errorf("restore store from snapshot: %w", err)
	}
	if err := f.loadApplied(); err != nil {
		return err
	}
	f.restores.Add(1)
	if f.onRestore != nil {
		f.onRestore()
	}
	return nil
}

// loadApplied reads the store's applied index.
func (f *fsm) loadApplied() error {
	idx, err := f.store.AppliedIndex(f.ctx())
	if err != nil {
		return fmt.Errorf("read applied index: %w", err)
	}
	f.setApplied(idx)
	return nil
}

// setApplied records the store's applied index and wakes waitApplied.
func (f *fsm) setApplied(idx uint64) {
	f.applied.Store(idx)
	f.mu.Lock()
	if f.advanced != nil {
		close(f.advanced)
		f.advanced = nil
	}
	f.mu.Unlock()
}

// waitApplied waits until the store has applied the log up to idx, or ctx
// ends.
func (f *fsm) waitApplied(ctx context.Context, idx uint64) error {
	for {
		f.mu.Lock()
		if f.applied.Load() >= idx {
			f.mu.Unlock()
			return nil
		}
		if f.advanced == nil {
			f.advanced = make(chan struct{})
		}
		advanced := f.advanced
		f.mu.Unlock()
		select {
		case <-advanced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fsmSnapshot is a store dump held in memory until Raft persists it.
type fsmSnapshot struct {
	data []byte
}

// Persist implements hraft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink hraft.SnapshotSink) error {
	if _, err := sink.Write(s.data); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write snapshot %s: %w", sink.ID(), err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close snapshot %s: %w", sink.ID(), err)
	}
	return nil
}

// Release implements hraft.FSMSnapshot.
func (s *fsmSnapshot) Release() { s.data = nil }
