// Package history forwards site history to headquarters along DESIGN.md's
// second data path, and moves the bytes of session media after it:
//
//  1. Every site-history write commits its record to the node's outbox in
//     the same SQLite transaction (storage/sqlite/history_outbox.go).
//  2. The publisher below copies the outbox, in sequence order, into the
//     node's JetStream stream HISTORY (subject siteline.history.<site>.<node>,
//     Nats-Msg-Id = the record's id) and stamps each row published only
//     after JetStream's acknowledgement. A crash in between republishes:
//     JetStream drops the copy inside its duplicate window and
//     headquarters applies by id after it.
//  3. A headquarters voter (a hub) sources the HISTORY of every other node,
//     plants and voters, over the leaf links into HISTORY_ALL and applies
//     it (hub.go), then tells each node the highest outbox sequence it has
//     applied from it (siteline.history-ack.<node>).
//
// A plant's history backlog is the number of its outbox records above the
// last sequence headquarters acknowledged: records not yet published, not
// yet copied across the link, or copied but not yet applied. It is exact
// when the acknowledgements arrive, and errs high (never low) when one is
// lost or the link is down. Each node answers what its history stands at
// on siteline.history-status.<node> (status.go).
//
// The package reaches the node's store only through the interfaces it
// declares (Store, Blobs, BlobLister); node builds and starts it.
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"siteline/cluster/bus"
	"siteline/storage"
)

const (
	// Stream is each node's JetStream stream of its own history.
	Stream        = "HISTORY"
	subjectPrefix = "siteline.history."
	ackPrefix     = "siteline.history-ack."
	batchSize     = 256
	retryAfter    = time.Second
	// choresEvery is how often the publisher saves the acknowledged mark,
	// prunes the outbox and (on a hub) re-sends acknowledgements.
	choresEvery = 2 * time.Second
	// pruneEvery is how often chores prune the outbox: the delete walks
	// every published row still kept, up to a day's, so it runs once a
	// minute rather than with every chore (rows are kept Keep anyway).
	pruneEvery = time.Minute
	// Keep is how long published, acknowledged outbox rows and stream
	// messages stay.
	Keep = 24 * time.Hour
	// MetaAcked is the meta key of the highest outbox sequence
	// headquarters acknowledged.
	MetaAcked = "history_acked"
)

// Outbox is the node's side of the store: its history outbox and the
// acknowledged mark.
type Outbox interface {
	// HistoryNotify fires after a commit that added outbox records.
	HistoryNotify() <-chan struct{}
	PendingHistory(ctx context.Context, limit int) ([]storage.HistoryOutboxRow, error)
	// HistorySince lists the records above a sequence, published or not,
	// in order (Config.ApplyOwn's reading).
	HistorySince(ctx context.Context, after int64, limit int) ([]storage.HistoryOutboxRow, error)
	MarkHistoryPublished(ctx context.Context, through int64, at time.Time) error
	HistoryCounts(ctx context.Context, acked int64) (last, unpublished, unacked int64, err error)
	PruneHistoryOutbox(ctx context.Context, through int64, before time.Time) (int64, error)
	// Meta returns storage.ErrNotFound for a key never set.
	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
}

// Applier is a hub's side of the store: the other nodes' history applied.
type Applier interface {
	ApplyHistory(ctx context.Context, batch []storage.HistoryMessage) (storage.HistoryApplied, error)
	// HistoryMarks is the highest sequence applied from each origin node.
	HistoryMarks(ctx context.Context) (map[string]int64, error)
}

// Store is what forwarding needs of the node's store.
type Store interface {
	Outbox
	Applier
}

// Member is a node of the federation's Raft configuration.
type Member struct {
	ID    string
	Voter bool
}

// Config is what a Forwarder is built from.
type Config struct {
	NodeID string
	SiteID string
	// Hub makes the node apply every other node's history too: a
	// headquarters voter.
	Hub   bool
	Bus   *bus.Bus
	Store Store
	// ApplyOwn applies the node's own outbox records to Store's Applier
	// too, in outbox order from the Applier's mark for this node: the
	// Applier is then a history store apart from the outbox's (a
	// headquarters whose history lives on PostgreSQL, its calls written
	// to its SQLite store first). The outbox keeps each record until it
	// is applied there.
	ApplyOwn bool
	// Members lists the nodes of the Raft configuration (a hub sources
	// each one's stream).
	Members func(context.Context) ([]Member, error)
	Logger  *slog.Logger
	Now     func() time.Time
}

// publishedMark is where one outbox record went in the node's stream, and
// when.
type publishedMark struct {
	outbox int64
	stream uint64
	at     time.Time
}

// Forwarder runs a node's side of forwarding, and a hub's side of
// applying.
type Forwarder struct {
	cfg     Config
	log     *slog.Logger
	subject string
	hub     *hub // nil on plants

	// acked is the highest outbox sequence headquarters has acknowledged
	// (plants); saved is what the meta table holds.
	acked     atomic.Int64
	saved     int64
	sub       *nats.Subscription
	statusSub *nats.Subscription
	// published maps outbox sequences to the stream's, in order, for the
	// records published since start and not yet purged (publishLoop's).
	published []publishedMark
	// prunedAt is when chores last pruned the outbox (publishLoop's).
	prunedAt time.Time
	// ownApplied is, with Config.ApplyOwn, the highest outbox sequence
	// applied to the Applier; -1 until read from its marks. ownRose is
	// closed, and replaced, each time it rises.
	ownApplied atomic.Int64
	ownMu      sync.Mutex
	ownRose    chan struct{}

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// Start starts forwarding the node's history and, on a hub, applying the
// others'. Stop ends it.
func Start(ctx context.Context, cfg Config) (*Forwarder, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Forwarder{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "history"),
		subject: subjectPrefix + cfg.SiteID + "." + cfg.NodeID,
	}
	h.ownApplied.Store(-1)
	h.ownRose = make(chan struct{})
	if err := cfg.Bus.EnsureStream(ctx, Stream, []string{h.subject}); err != nil {
		return nil, err
	}
	saved, err := cfg.Store.Meta(ctx, MetaAcked)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if saved != "" {
		if h.saved, err = strconv.ParseInt(saved, 10, 64); err != nil {
			return nil, fmt.Errorf("meta %s: %q is not a number", MetaAcked, saved)
		}
		h.acked.Store(h.saved)
	}
	nc := cfg.Bus.Conn()
	if h.sub, err = nc.Subscribe(ackPrefix+cfg.NodeID, h.onAck); err != nil {
		return nil, fmt.Errorf("subscribe to history acknowledgements: %w", err)
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if cfg.Hub {
		h.hub = newHub(h)
	}
	if h.statusSub, err = nc.Subscribe(statusPrefix+cfg.NodeID, h.serveStatus); err != nil {
		h.cancel()
		_ = h.sub.Unsubscribe()
		return nil, fmt.Errorf("answer history status: %w", err)
	}
	h.wg.Add(1)
	go h.publishLoop()
	if h.hub != nil {
		h.hub.start()
	}
	return h, nil
}

// Stop ends the goroutines, then publishes what is pending once more, so
// a graceful shutdown leaves the outbox empty when it can. Calls after the
// first do nothing.
func (h *Forwarder) Stop() { h.stopOnce.Do(h.stop) }

func (h *Forwarder) stop() {
	_ = h.statusSub.Unsubscribe()
	h.cancel()
	h.wg.Wait()
	_ = h.sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.publishPending(ctx); err != nil {
		h.log.Warn("history: records left in the outbox at shutdown; they are published at the next start", "err", err)
	}
	if _, err := h.applyOwnPending(ctx); err != nil {
		h.log.Warn("history: own records left to apply at shutdown; they are applied at the next start", "err", err)
	}
	h.saveAcked(ctx)
}

// onAck raises the acknowledged mark; acknowledgements may arrive out of
// order or twice.
func (h *Forwarder) onAck(m *nats.Msg) {
	seq, err := strconv.ParseInt(string(m.Data), 10, 64)
	if err != nil || seq < 0 {
		h.log.Warn("history: malformed acknowledgement", "data", string(m.Data))
		return
	}
	for {
		cur := h.acked.Load()
		if seq <= cur || h.acked.CompareAndSwap(cur, seq) {
			return
		}
	}
}

func (h *Forwarder) publishLoop() {
	defer h.wg.Done()
	chores := time.NewTicker(choresEvery)
	defer chores.Stop()
	notify := h.cfg.Store.HistoryNotify()
	for {
		n, err := h.publishPending(h.ctx)
		own, ownErr := h.applyOwnPending(h.ctx)
		wait := time.Duration(0)
		switch {
		case h.ctx.Err() != nil:
			return
		case err != nil || ownErr != nil:
			if err != nil {
				h.log.Warn("history: publish; retrying", "err", err)
			}
			if ownErr != nil {
				h.log.Warn("history: apply the node's own records; retrying", "err", ownErr)
			}
			wait = retryAfter
		case n == batchSize || own == batchSize:
			continue // more are waiting
		}
		var retry <-chan time.Time
		if wait > 0 {
			retry = time.After(wait)
		}
		select {
		case <-h.ctx.Done():
			return
		case <-notify:
		case <-retry:
		case <-chores.C:
			h.chores()
		}
	}
}

// publishPending publishes up to one batch of outbox records in order and
// marks those JetStream acknowledged. It returns how many it published.
func (h *Forwarder) publishPending(ctx context.Context) (int, error) {
	rows, err := h.cfg.Store.PendingHistory(ctx, batchSize)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	done, perr := h.publish(ctx, rows)
	if done > 0 {
		if err := h.cfg.Store.MarkHistoryPublished(ctx, rows[done-1].Seq, h.cfg.Now().UTC()); err != nil {
			return done, errors.Join(perr, err)
		}
	}
	return done, perr
}

// applyOwnPending applies up to one batch of the node's own records to the
// Applier, with Config.ApplyOwn, and returns how many. A record the
// Applier rejects is kept in its rejected list like a plant's, and passed.
func (h *Forwarder) applyOwnPending(ctx context.Context) (int, error) {
	if !h.cfg.ApplyOwn {
		return 0, nil
	}
	after := h.ownApplied.Load()
	if after < 0 {
		marks, err := h.cfg.Store.HistoryMarks(ctx)
		if err != nil {
			return 0, err
		}
		after = marks[h.cfg.NodeID]
		h.setOwnApplied(after)
	}
	rows, err := h.cfg.Store.HistorySince(ctx, after, batchSize)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	batch := make([]storage.HistoryMessage, len(rows))
	for i, r := range rows {
		batch[i] = storage.HistoryMessage{Origin: h.cfg.NodeID, Seq: r.Seq, Record: r.Record}
	}
	res, err := h.cfg.Store.ApplyHistory(ctx, batch)
	if err != nil {
		return 0, err
	}
	for _, r := range res.Rejected {
		h.log.Error("history: own record rejected by the history store; kept in history_rejected", "seq", r.Seq, "id", r.ID, "reason", r.Reason)
	}
	h.setOwnApplied(rows[len(rows)-1].Seq)
	return len(rows), nil
}

func (h *Forwarder) setOwnApplied(seq int64) {
	h.ownApplied.Store(seq)
	h.ownMu.Lock()
	close(h.ownRose)
	h.ownRose = make(chan struct{})
	h.ownMu.Unlock()
}

// WaitOwnApplied waits until the node's own records through seq are
// applied to the history store (Config.ApplyOwn), or ctx ends.
func (h *Forwarder) WaitOwnApplied(ctx context.Context, seq int64) error {
	for {
		h.ownMu.Lock()
		rose := h.ownRose
		h.ownMu.Unlock()
		if h.ownApplied.Load() >= seq {
			return nil
		}
		select {
		case <-rose:
		case <-ctx.Done():
			return fmt.Errorf("wait for the history store to hold outbox record %d (it holds %d): %w", seq, h.ownApplied.Load(), ctx.Err())
		}
	}
}

// OwnApplied is, with Config.ApplyOwn, the highest of the node's outbox
// sequences applied to the history store; -1 before the first reading.
func (h *Forwarder) OwnApplied() int64 { return h.ownApplied.Load() }

// publish stores rows in the node's stream one after the other, each
// acknowledged before the next goes, so the stream holds them in outbox
// order. It returns how many were acknowledged.
func (h *Forwarder) publish(ctx context.Context, rows []storage.HistoryOutboxRow) (int, error) {
	for i, r := range rows {
		data, err := json.Marshal(storage.HistoryMessage{Origin: h.cfg.NodeID, Seq: r.Seq, Record: r.Record})
		if err != nil {
			return i, fmt.Errorf("encode history record %s: %w", r.ID, err)
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		seq, err := h.cfg.Bus.Publish(pctx, h.subject, r.ID, data)
		cancel()
		if err != nil {
			return i, err
		}
		h.published = append(h.published, publishedMark{outbox: r.Seq, stream: seq, at: h.cfg.Now()})
	}
	return len(rows), nil
}

// chores saves the acknowledged mark, prunes the outbox and the stream
// and, on a hub, re-sends every node its mark.
func (h *Forwarder) chores() {
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	h.saveAcked(ctx)
	through := h.acked.Load()
	if h.hub != nil {
		h.hub.resendAcks(ctx)
		if !h.hub.hasPeers(ctx) {
			// Nobody acknowledges a lone voter's history: it is all
			// here, and kept Keep for a voter that joins.
			through = math.MaxInt64
		}
	}
	if h.cfg.ApplyOwn {
		// A record leaves the outbox only once the history store holds it.
		through = min(through, h.ownApplied.Load())
	}
	if now := h.cfg.Now(); now.Sub(h.prunedAt) >= pruneEvery {
		if n, err := h.cfg.Store.PruneHistoryOutbox(ctx, through, now.Add(-Keep)); err != nil {
			h.log.Warn("history: prune outbox", "err", err)
		} else {
			h.prunedAt = now
			if n > 0 {
				h.log.Debug("history: pruned outbox", "rows", n)
			}
		}
	}
	h.purgeStream(ctx, through)
	if h.hub != nil {
		h.hub.purgeApplied(ctx)
	}
}

// purgeStream removes from the node's stream the records acknowledged
// (through) once they are Keep old: the keep leaves a second hub fed from
// the same node, or a voter that joins, time to copy them. The marks are
// the records published since start; older messages go with the first
// purge after it, as a purge takes everything below a sequence.
func (h *Forwarder) purgeStream(ctx context.Context, through int64) {
	cut := h.cfg.Now().Add(-Keep)
	last := -1
	for i, m := range h.published {
		if m.outbox > through || m.at.After(cut) {
			break
		}
		last = i
	}
	if last < 0 {
		return
	}
	if err := h.cfg.Bus.Purge(ctx, Stream, h.published[last].stream+1); err != nil {
		h.log.Warn("history: purge acknowledged records from the stream", "err", err)
		return
	}
	h.published = h.published[last+1:]
}

func (h *Forwarder) saveAcked(ctx context.Context) {
	acked := h.acked.Load()
	if acked <= h.saved {
		return
	}
	if err := h.cfg.Store.SetMeta(ctx, MetaAcked, strconv.FormatInt(acked, 10)); err != nil {
		h.log.Warn("history: save acknowledged mark", "err", err)
		return
	}
	h.saved = acked
}

// Unapplied is, on a hub, how many sourced messages wait to be applied
// here; 0 on a plant.
func (h *Forwarder) Unapplied(ctx context.Context) (int64, error) {
	if h.hub == nil {
		return 0, nil
	}
	return h.hub.unapplied(ctx)
}
