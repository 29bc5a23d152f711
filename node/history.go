package node

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

	"siteline/storage"
	"siteline/web"
)

// Site history reaches headquarters along DESIGN.md's second data path:
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
//     it (history_hub.go), then tells each node the highest outbox
//     sequence it has applied from it (siteline.history-ack.<node>).
//
// A plant's history backlog is the number of its outbox records above the
// last sequence headquarters acknowledged: records not yet published, not
// yet copied across the link, or copied but not yet applied. It is exact
// when the acknowledgements arrive, and errs high (never low) when one is
// lost or the link is down.

const (
	historyStream        = "HISTORY"
	historySubjectPrefix = "siteline.history."
	historyAckPrefix     = "siteline.history-ack."
	historyBatch         = 256
	historyRetry         = time.Second
	// historyChores is how often the publisher saves the acknowledged
	// mark, prunes the outbox and (on a hub) re-sends acknowledgements.
	historyChores = 2 * time.Second
	// historyKeep is how long published, acknowledged outbox rows stay.
	historyKeep      = 24 * time.Hour
	metaHistoryAcked = "history_acked"
)

// publishedMark is where one outbox record went in the node's stream, and
// when.
type publishedMark struct {
	outbox int64
	stream uint64
	at     time.Time
}

// history runs a node's side of forwarding, and a hub's side of applying.
type history struct {
	n       *Node
	log     *slog.Logger
	subject string
	hub     *historyHub // nil on plants

	// acked is the highest outbox sequence headquarters has acknowledged
	// (plants); saved is what the meta table holds.
	acked atomic.Int64
	saved int64
	sub   *nats.Subscription
	// published maps outbox sequences to the stream's, in order, for the
	// records published since start and not yet purged (publishLoop's).
	published []publishedMark

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newHistory(ctx context.Context, n *Node) (*history, error) {
	h := &history{
		n:       n,
		log:     n.log.With("component", "history"),
		subject: historySubjectPrefix + n.siteID + "." + n.nodeID,
	}
	if err := n.bus.EnsureStream(ctx, historyStream, []string{h.subject}); err != nil {
		return nil, err
	}
	saved, err := n.meta(ctx, metaHistoryAcked)
	if err != nil {
		return nil, err
	}
	if saved != "" {
		if h.saved, err = strconv.ParseInt(saved, 10, 64); err != nil {
			return nil, fmt.Errorf("meta %s: %q is not a number", metaHistoryAcked, saved)
		}
		h.acked.Store(h.saved)
	}
	if h.sub, err = n.bus.Conn().Subscribe(historyAckPrefix+n.nodeID, h.onAck); err != nil {
		return nil, fmt.Errorf("subscribe to history acknowledgements: %w", err)
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if n.raft.Suffrage() == "voter" {
		h.hub = newHistoryHub(h)
	}
	h.wg.Add(1)
	go h.publishLoop()
	if h.hub != nil {
		h.hub.start()
	}
	return h, nil
}

// stop ends the goroutines, then publishes what is pending once more, so
// a graceful shutdown leaves the outbox empty when it can.
func (h *history) stop() {
	h.cancel()
	h.wg.Wait()
	_ = h.sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.publishPending(ctx); err != nil {
		h.log.Warn("history: records left in the outbox at shutdown; they are published at the next start", "err", err)
	}
	h.saveAcked(ctx)
}

// onAck raises the acknowledged mark; acknowledgements may arrive out of
// order or twice.
func (h *history) onAck(m *nats.Msg) {
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

func (h *history) publishLoop() {
	defer h.wg.Done()
	chores := time.NewTicker(historyChores)
	defer chores.Stop()
	notify := h.n.store.HistoryNotify()
	for {
		n, err := h.publishPending(h.ctx)
		wait := time.Duration(0)
		switch {
		case h.ctx.Err() != nil:
			return
		case err != nil:
			h.log.Warn("history: publish; retrying", "err", err)
			wait = historyRetry
		case n == historyBatch:
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
func (h *history) publishPending(ctx context.Context) (int, error) {
	rows, err := h.n.store.PendingHistory(ctx, historyBatch)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	done, perr := h.publish(ctx, rows)
	if done > 0 {
		if err := h.n.store.MarkHistoryPublished(ctx, rows[done-1].Seq, h.n.now().UTC()); err != nil {
			return done, errors.Join(perr, err)
		}
	}
	return done, perr
}

// publish stores rows in the node's stream one after the other, each
// acknowledged before the next goes, so the stream holds them in outbox
// order. It returns how many were acknowledged.
func (h *history) publish(ctx context.Context, rows []storage.HistoryOutboxRow) (int, error) {
	for i, r := range rows {
		data, err := json.Marshal(storage.HistoryMessage{Origin: h.n.nodeID, Seq: r.Seq, Record: r.Record})
		if err != nil {
			return i, fmt.Errorf("encode history record %s: %w", r.ID, err)
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		seq, err := h.n.bus.Publish(pctx, h.subject, r.ID, data)
		cancel()
		if err != nil {
			return i, err
		}
		h.published = append(h.published, publishedMark{outbox: r.Seq, stream: seq, at: h.n.now()})
	}
	return len(rows), nil
}

// chores saves the acknowledged mark, prunes the outbox and the stream
// and, on a hub, re-sends every node its mark.
func (h *history) chores() {
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	h.saveAcked(ctx)
	through := h.acked.Load()
	if h.hub != nil {
		h.hub.resendAcks(ctx)
		if !h.hub.hasPeers(ctx) {
			// Nobody acknowledges a lone voter's history: it is all
			// here, and kept historyKeep for a voter that joins.
			through = math.MaxInt64
		}
	}
	if n, err := h.n.store.PruneHistoryOutbox(ctx, through, h.n.now().Add(-historyKeep)); err != nil {
		h.log.Warn("history: prune outbox", "err", err)
	} else if n > 0 {
		h.log.Debug("history: pruned outbox", "rows", n)
	}
	h.purgeStream(ctx, through)
	if h.hub != nil {
		h.hub.purgeApplied(ctx)
	}
}

// purgeStream removes from the node's stream the records acknowledged
// (through) once they are historyKeep old: the keep leaves a second hub
// fed from the same node, or a voter that joins, time to copy them. The
// marks are the records published since start; older messages go with the
// first purge after it, as a purge takes everything below a sequence.
func (h *history) purgeStream(ctx context.Context, through int64) {
	cut := h.n.now().Add(-historyKeep)
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
	if err := h.n.bus.Purge(ctx, historyStream, h.published[last].stream+1); err != nil {
		h.log.Warn("history: purge acknowledged records from the stream", "err", err)
		return
	}
	h.published = h.published[last+1:]
}

func (h *history) saveAcked(ctx context.Context) {
	acked := h.acked.Load()
	if acked <= h.saved {
		return
	}
	if err := h.n.store.SetMeta(ctx, metaHistoryAcked, strconv.FormatInt(acked, 10)); err != nil {
		h.log.Warn("history: save acknowledged mark", "err", err)
		return
	}
	h.saved = acked
}

// historyStats is what a node tells the others about its history (in
// its Raft stats), for the cluster status.
type historyStats struct {
	// Role is "plant" or "hub".
	Role string `json:"role"`
	// Backlog: on a plant, records headquarters has not acknowledged; on
	// a hub, plant records received but not yet applied.
	Backlog int64 `json:"backlog"`
	// Unpublished records are still only in the outbox.
	Unpublished int64 `json:"unpublished"`
	// Links is the number of leaf links up.
	Links int `json:"links"`
}

// stats measures the history backlog now.
func (h *history) stats(ctx context.Context) (historyStats, error) {
	st := historyStats{Role: "plant", Links: h.n.bus.LeafLinks()}
	_, unpublished, unacked, err := h.n.store.HistoryCounts(ctx, h.acked.Load())
	if err != nil {
		return st, err
	}
	st.Unpublished, st.Backlog = unpublished, unacked
	if h.hub != nil {
		st.Role = "hub"
		st.Backlog, err = h.hub.unapplied(ctx)
	}
	return st, err
}

// statsExtra is the raft.Config.StatsExtra of a node.
func (n *Node) statsExtra() json.RawMessage {
	h := n.history.get()
	if h == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := h.stats(ctx)
	if err != nil {
		h.log.Warn("history: stats", "err", err)
		return nil
	}
	b, _ := json.Marshal(st)
	return b
}

// historyStatus fills a node's history columns of the cluster status from
// the stats it answered with.
func historyStatus(cn *web.ClusterNode, extra json.RawMessage) {
	var st historyStats
	if len(extra) == 0 || json.Unmarshal(extra, &st) != nil || st.Role == "" {
		return
	}
	backlog := st.Backlog
	cn.HistoryBacklog = &backlog
	switch {
	case st.Role == "hub":
		cn.HistoryLink = fmt.Sprintf("hub, %d %s", st.Links, plural(st.Links, "link", "links"))
	case st.Links > 0:
		cn.HistoryLink = "up"
	default:
		cn.HistoryLink = "down"
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
