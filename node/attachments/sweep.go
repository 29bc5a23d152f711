package attachments

import (
	"context"
	"log/slog"
	"time"

	"siteline/storage"
)

// The sweeper removes the bytes nobody refers to any more. First those of
// deletions not dealt with yet: a deletion applied from another node's
// history (headquarters dropping its copy), or one whose removal a crash
// interrupted; it runs them as soon as the store tells of new ones. Then,
// every SweepEvery, orphans: blobs no live media or recording row refers
// to, last written more than Grace ago, so that an upload whose row is not
// committed yet (and the blob store holds anyway) is never taken.

// SweepStore is what the sweeper reads and writes in the site store.
type SweepStore interface {
	PendingBlobDeletions(ctx context.Context, limit int) ([]storage.MediaDeletion, error)
	MarkBlobDeletionDone(ctx context.Context, id string) error
	MediaBlobLive(ctx context.Context, key string) (bool, error)
}

// SweepBlobs is the blob store as the sweeper uses it (storage/blob).
type SweepBlobs interface {
	// Remove removes blob key unless live says a live row refers to it.
	Remove(key string, live func(key string) (bool, error)) (bool, error)
	// Keys lists the blobs last written before before.
	Keys(before time.Time) ([]string, error)
}

// Defaults of the sweeper.
const (
	DefaultSweepEvery = time.Hour
	DefaultSweepGrace = time.Hour
)

// deletionBatch is how many deletions one pass lists.
const deletionBatch = 100

// Sweeper removes deleted and orphaned blobs.
type Sweeper struct {
	Store SweepStore
	Blobs SweepBlobs
	// Notify wakes the sweeper for new deletions; nil waits for Every.
	Notify <-chan struct{}
	// Every is how often orphans are looked for (DefaultSweepEvery when
	// zero); Grace how old an orphan must be (DefaultSweepGrace when zero).
	Every, Grace time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

// Run sweeps until ctx ends: deletions first, then orphans, then
// deletions whenever the store tells of new ones, and both every Every.
func (sw *Sweeper) Run(ctx context.Context) {
	every := sw.Every
	if every <= 0 {
		every = DefaultSweepEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	sw.pass(ctx, true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sw.Notify:
			sw.pass(ctx, false)
		case <-t.C:
			sw.pass(ctx, true)
		}
	}
}

func (sw *Sweeper) pass(ctx context.Context, orphans bool) {
	if err := sw.Deletions(ctx); err != nil && ctx.Err() == nil {
		sw.log().Warn("media sweep: deleted media", "err", err)
	}
	if !orphans {
		return
	}
	if n, err := sw.Orphans(ctx); err != nil && ctx.Err() == nil {
		sw.log().Warn("media sweep: orphans", "err", err)
	} else if n > 0 {
		sw.log().Info("media sweep: orphan blobs removed", "count", n)
	}
}

// Deletions removes the bytes of every deletion not dealt with yet,
// unless a live row shares them.
func (sw *Sweeper) Deletions(ctx context.Context) error {
	for {
		ds, err := sw.Store.PendingBlobDeletions(ctx, deletionBatch)
		if err != nil || len(ds) == 0 {
			return err
		}
		for _, d := range ds {
			if err := removeDeleted(ctx, sw.Store, sw.Blobs, d); err != nil {
				return err
			}
		}
		if len(ds) < deletionBatch {
			return nil
		}
	}
}

// Orphans removes the blobs no live row refers to that were last written
// more than Grace ago, and returns how many it removed.
func (sw *Sweeper) Orphans(ctx context.Context) (int, error) {
	grace := sw.Grace
	if grace <= 0 {
		grace = DefaultSweepGrace
	}
	now := time.Now
	if sw.Now != nil {
		now = sw.Now
	}
	keys, err := sw.Blobs.Keys(now().Add(-grace))
	if err != nil {
		return 0, err
	}
	live := func(key string) (bool, error) { return sw.Store.MediaBlobLive(ctx, key) }
	n := 0
	for _, k := range keys {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		removed, err := sw.Blobs.Remove(k, live)
		if err != nil {
			return n, err
		}
		if removed {
			n++
		}
	}
	return n, nil
}

func (sw *Sweeper) log() *slog.Logger {
	if sw.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return sw.Log
}
