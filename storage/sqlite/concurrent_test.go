package sqlite

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"siteline/storage"
)

// Readers run while one writer applies commands and another goroutine
// writes site data; run it under -race. Every reader must see the applied
// index never go back, and the users it lists never fewer than the index it
// read before implies.
func TestConcurrentReadersAndWriter(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	const commands, readers, seedUsers = 60, 4, 3 // seed has 3 users in o1

	errs := make(chan error, readers+2)
	done := make(chan struct{})
	var wg sync.WaitGroup

	wg.Add(1)
	go func() { // the Raft writer
		defer wg.Done()
		defer close(done)
		for i := range commands {
			id := fmt.Sprintf("c%03d", i)
			c := cmd(storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: id, OrgID: "o1", Email: id + "@acme.test", Name: id}},
				storage.Change{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t1", UserID: id}})
			if err := s.Apply(ctx, uint64(2+i), c); err != nil {
				errs <- err
				return
			}
		}
	}()

	wg.Add(1)
	go func() { // site data written at the same time
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			e := storage.AuditEvent{ID: fmt.Sprintf("a%d", i), OrgID: "o1", At: t0, ActorID: "u1", Action: "test.write"}
			if err := s.AppendAudit(ctx, e); err != nil {
				errs <- err
				return
			}
		}
	}()

	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				index, err := s.AppliedIndex(ctx)
				if err != nil {
					errs <- err
					return
				}
				if index < last {
					errs <- fmt.Errorf("applied index went back from %d to %d", last, index)
					return
				}
				last = index
				users, err := s.Users(ctx, "o1")
				if err != nil {
					errs <- err
					return
				}
				if least := seedUsers + int(index-1); len(users) < least {
					errs <- fmt.Errorf("at index %d a reader saw %d users, want at least %d", index, len(users), least)
					return
				}
				if _, err := s.TeamMembers(ctx, "t1"); err != nil {
					errs <- err
					return
				}
				if _, err := s.Audit(ctx, storage.AuditFilter{Limit: 10}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if users, _ := s.Users(ctx, "o1"); len(users) != seedUsers+commands {
		t.Errorf("%d users at the end, want %d", len(users), seedUsers+commands)
	}
	if index, _ := s.AppliedIndex(ctx); index != commands+1 {
		t.Errorf("applied index %d at the end, want %d", index, commands+1)
	}
}
