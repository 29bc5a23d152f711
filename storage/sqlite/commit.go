package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// Every write transaction ends with a commit that waits for the disk
// (synchronous=FULL), and the writer connection takes one transaction at a
// time: eight joins arriving at once waited for eight commits, one after
// the other. writeTx commits concurrent transactions together instead:
// while one group commits, the transactions that arrive wait, and the
// first of them then runs them (up to maxGroup) in one transaction, each
// inside a savepoint of its own, and commits once. A function that fails is rolled
// back to its savepoint alone; the others commit. Each caller returns
// once its own writes are on disk (or have failed), as before.
//
// A group whose transaction SQLite rolled back as a whole (an interrupted
// statement, a full disk: its savepoint is gone) runs its members again
// one transaction each, so that one caller's failure never becomes
// another's.

// maxGroup bounds a group, so that its first caller waits for a bounded
// number of others.
const maxGroup = 64

// groups queues the write transactions that wait for the writer.
type groups struct {
	mu      sync.Mutex
	waiting []*pendingTx
	running bool // a leader is committing a group
}

// pendingTx is one writeTx call in the queue.
type pendingTx struct {
	ctx  context.Context
	f    func(*sql.Tx) error
	lead chan struct{} // closed when this call is to commit the next group
	done chan struct{} // closed when err is final
	err  error
}

// writeTx runs f in a write transaction, committed with the others that
// wait with it, and returns once f's writes are on disk or have failed.
func (s *Store) writeTx(ctx context.Context, f func(*sql.Tx) error) error {
	p := &pendingTx{ctx: ctx, f: f, lead: make(chan struct{}), done: make(chan struct{})}
	g := &s.groups
	g.mu.Lock()
	g.waiting = append(g.waiting, p)
	if !g.running {
		g.running = true
		close(p.lead)
	}
	g.mu.Unlock()

	select {
	case <-p.done:
		return p.err
	case <-p.lead:
	}
	g.mu.Lock()
	n := min(len(g.waiting), maxGroup)
	group := g.waiting[:n:n]
	g.waiting = append([]*pendingTx(nil), g.waiting[n:]...)
	g.mu.Unlock()

	s.commitGroup(group)

	g.mu.Lock()
	if len(g.waiting) > 0 {
		close(g.waiting[0].lead) // the next group's leader
	} else {
		g.running = false
	}
	g.mu.Unlock()
	return p.err
}

// commitGroup runs the group's functions in one transaction and commits
// it; a group of one is a plain transaction.
func (s *Store) commitGroup(group []*pendingTx) {
	finish := func(p *pendingTx, err error) {
		p.err = err
		close(p.done)
	}
	if len(group) == 1 {
		p := group[0]
		finish(p, s.singleTx(p.ctx, p.f))
		return
	}
	tx, err := s.write.BeginTx(context.Background(), nil) // each function's statements carry its own ctx
	if err != nil {
		for _, p := range group {
			finish(p, err)
		}
		return
	}
	var ran []*pendingTx // functions that succeeded, to commit
	for i, p := range group {
		if err := p.ctx.Err(); err != nil {
			finish(p, err)
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT grouped`); err != nil {
			s.abandonGroup(tx, ran, group[i:], err)
			return
		}
		ferr := p.f(tx)
		if ferr != nil {
			_, err = tx.Exec(`ROLLBACK TO grouped`)
		}
		if err == nil {
			_, err = tx.Exec(`RELEASE grouped`)
		}
		if err != nil { // the savepoint is gone: SQLite rolled the transaction back
			if ferr != nil {
				finish(p, ferr)
				s.abandonGroup(tx, ran, group[i+1:], err)
			} else {
				s.abandonGroup(tx, ran, group[i:], err)
			}
			return
		}
		if ferr != nil {
			finish(p, ferr)
			continue
		}
		ran = append(ran, p)
	}
	if len(ran) == 0 {
		_ = tx.Rollback()
		return
	}
	err = tx.Commit()
	if err != nil {
		err = domainError(err)
	}
	for _, p := range ran {
		finish(p, err)
	}
}

// abandonGroup rolls back a group's transaction that SQLite has ended or
// that cannot go on, and runs the functions that had succeeded (ran) and
// those not yet run (rest) one transaction each.
func (s *Store) abandonGroup(tx *sql.Tx, ran, rest []*pendingTx, cause error) {
	_ = tx.Rollback()
	s.logger.Debug("write group rolled back; its transactions run one by one", "err", cause)
	for _, p := range append(ran, rest...) {
		p.err = s.singleTx(p.ctx, p.f)
		close(p.done)
	}
}

// singleTx runs f in a transaction of its own and commits it.
func (s *Store) singleTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return domainError(err)
	}
	return nil
}
