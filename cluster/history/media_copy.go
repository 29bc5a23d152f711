package history

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// With media.copy_from_sites: always, a node does not wait for the first
// view: it copies the bytes of every media and recording forwarded to it
// from their origin nodes as their rows arrive, so headquarters holds the
// files of every site even if a plant later burns down. The copies go one
// at a time; a site out of reach is tried again on the next round.

// mediaCopyEvery is how often the copier looks for forwarded media whose
// bytes are not here, unless TransferConfig.CopyEvery says otherwise.
const mediaCopyEvery = 5 * time.Second

type copier struct {
	t      *Transfer
	store  BlobLister
	log    *slog.Logger
	every  time.Duration
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startCopier(t *Transfer, store BlobLister, log *slog.Logger, every time.Duration) *copier {
	ctx, cancel := context.WithCancel(context.Background())
	c := &copier{t: t, store: store, log: log, every: every, cancel: cancel}
	c.wg.Add(1)
	go c.loop(ctx)
	return c
}

func (c *copier) stop() {
	c.cancel()
	c.wg.Wait()
}

func (c *copier) loop(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		c.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round copies every forwarded blob that is not here yet, skipping the
// rest of a node's blobs once it did not answer.
func (c *copier) round(ctx context.Context) {
	refs, err := c.store.ForwardedBlobs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("media copy: list forwarded media", "err", err)
		}
		return
	}
	unreachable := map[string]bool{}
	for _, ref := range refs {
		if ctx.Err() != nil {
			return
		}
		if unreachable[ref.Origin] {
			continue
		}
		if c.t.blobs.Has(ref.Key) {
			continue
		}
		err := c.t.fetch(ctx, ref.Key, ref.Origin, ref.Size)
		var ue *UnreachableError
		switch {
		case err == nil:
			c.log.Debug("media copy: copied", "key", ref.Key, "origin", ref.Origin, "bytes", ref.Size)
		case errors.As(err, &ue):
			unreachable[ref.Origin] = true
			c.log.Debug("media copy: origin out of reach; next round", "origin", ref.Origin, "err", err)
		case ctx.Err() == nil:
			c.log.Warn("media copy: copy failed; next round", "key", ref.Key, "origin", ref.Origin, "err", err)
		}
	}
}
