package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"siteline/cluster/bus"
	"siteline/storage"
)

// A hub is a headquarters voter's side of history forwarding: it sources
// the HISTORY stream of every other node of the Raft configuration (the
// plants and the other voters, by node id as JetStream domain) into
// HISTORY_ALL and applies it with a durable consumer, acknowledging each
// message only after the SQLite commit. So every voter holds the history
// of the whole federation. Sources are only ever added: a node that left
// the federation still delivers what it had recorded.

const (
	// Aggregate is a hub's stream of every other node's history.
	Aggregate    = "HISTORY_ALL"
	consumerName = "apply"
	// sourcesEvery is how often the hub looks for new plants.
	sourcesEvery = 5 * time.Second
	ackWait      = 30 * time.Second
)

type hub struct {
	h     *Forwarder
	ready chan struct{} // closed once the consumer exists
	// purged is the stream sequence HISTORY_ALL was last purged through
	// (chores' own).
	purged uint64

	mu   sync.Mutex
	cons jetstream.Consumer
}

func newHub(h *Forwarder) *hub {
	return &hub{h: h, ready: make(chan struct{})}
}

func (hub *hub) start() {
	hub.h.wg.Add(2)
	go hub.sourcesLoop()
	go hub.applyLoop()
}

func (hub *hub) consumer() jetstream.Consumer {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	return hub.cons
}

// sourcesLoop adds new plants to the sources every sourcesEvery
// and, when a leaf link comes up, restarts the sources that went quiet: a
// source that failed through an outage is otherwise retried only after
// JetStream's back-off (up to two minutes), and a request lost in the
// outage holds it 30 s more.
func (hub *hub) sourcesLoop() {
	defer hub.h.wg.Done()
	ctx := hub.h.ctx
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastSync time.Time
	links := hub.h.cfg.Bus.LeafLinks()
	for {
		if time.Since(lastSync) >= sourcesEvery {
			lastSync = time.Now()
			if err := hub.syncSources(ctx); err != nil && ctx.Err() == nil {
				hub.h.log.Warn("history: source the plants' streams", "err", err)
			}
		}
		if now := hub.h.cfg.Bus.LeafLinks(); now > links && hub.consumer() != nil {
			if err := hub.restartQuietSources(ctx); err != nil && ctx.Err() == nil {
				hub.h.log.Warn("history: restart sources after a link came up", "err", err)
			}
			links = now
		} else {
			links = now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sourceQuiet is how long a healthy source goes without a message
// or heartbeat (JetStream sends one a second) at most.
const sourceQuiet = 3 * time.Second

// restartQuietSources restarts the sources of HISTORY_ALL that have been
// quiet longer than sourceQuiet.
func (hub *hub) restartQuietSources(ctx context.Context) error {
	st, err := hub.h.cfg.Bus.JetStream().Stream(ctx, Aggregate)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	var quiet []string
	for _, si := range info.Sources {
		if si == nil || si.Active >= 0 && si.Active <= sourceQuiet && si.Error == nil {
			continue
		}
		if d := sourceDomain(&jetstream.StreamSource{External: si.External}); d != "" {
			quiet = append(quiet, d)
		}
	}
	if len(quiet) == 0 {
		return nil
	}
	hub.h.log.Info("history: restarting quiet sources after a link came up", "plants", quiet)
	return hub.h.cfg.Bus.RestartSources(ctx, Aggregate, quiet)
}

// syncSources adds every plant of the Raft configuration to HISTORY_ALL's
// sources and makes sure the apply consumer exists.
func (hub *hub) syncSources(ctx context.Context) error {
	cfg := hub.h.cfg
	members, err := cfg.Members(ctx)
	if err != nil {
		return err
	}
	js := cfg.Bus.JetStream()
	have := map[string]bool{}
	// A source added once HISTORY_ALL was purged of what was applied
	// starts at the origin's first message (bus.Source.FromFirst):
	// otherwise it would skip every record the node held before.
	purged := false
	st, err := js.Stream(ctx, Aggregate)
	switch {
	case err == nil:
		info := st.CachedInfo()
		for _, s := range info.Config.Sources {
			if d := sourceDomain(s); d != "" {
				have[d] = true
			}
		}
		purged = info.State.FirstSeq > 1
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("stream %s: %w", Aggregate, err)
	}
	domains := make([]string, 0, len(have))
	for d := range have {
		domains = append(domains, d)
	}
	added := false
	for _, m := range members {
		if m.ID != cfg.NodeID && !have[m.ID] {
			domains, added = append(domains, m.ID), true
		}
	}
	if len(domains) == 0 {
		return nil // no other node yet
	}
	if added {
		slices.Sort(domains)
		sources := make([]bus.Source, len(domains))
		for i, d := range domains {
			sources[i] = bus.Source{Stream: Stream, Domain: d, FromFirst: purged && !have[d]}
		}
		if err := cfg.Bus.SourceStream(ctx, Aggregate, sources); err != nil {
			return err
		}
		hub.h.log.Info("history: sourcing the other nodes", "nodes", domains)
	}
	if hub.consumer() != nil {
		return nil
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, Aggregate, jetstream.ConsumerConfig{
		Durable:       consumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: 4 * batchSize,
	})
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", consumerName, Aggregate, err)
	}
	hub.mu.Lock()
	hub.cons = cons
	hub.mu.Unlock()
	close(hub.ready)
	return nil
}

// sourceDomain is the JetStream domain a stored source names: the client
// turns a source's Domain into the API prefix $JS.<domain>.API.
func sourceDomain(s *jetstream.StreamSource) string {
	if s == nil || s.External == nil {
		return ""
	}
	d, ok := strings.CutPrefix(s.External.APIPrefix, "$JS.")
	if !ok {
		return ""
	}
	d, ok = strings.CutSuffix(d, ".API")
	if !ok {
		return ""
	}
	return d
}

func (hub *hub) applyLoop() {
	defer hub.h.wg.Done()
	ctx := hub.h.ctx
	select {
	case <-ctx.Done():
		return
	case <-hub.ready:
	}
	cons := hub.consumer()
	for ctx.Err() == nil {
		msgs, err := fetchBatch(cons)
		if err != nil {
			hub.h.log.Warn("history: fetch from "+Aggregate, "err", err)
			sleepCtx(ctx, retryAfter)
			continue
		}
		if len(msgs) > 0 {
			hub.apply(ctx, msgs)
		}
	}
}

// fetchBatch waits up to a second for a message, then takes what else is
// there, up to a batch.
func fetchBatch(cons jetstream.Consumer) ([]jetstream.Msg, error) {
	first, err := cons.Next(jetstream.FetchMaxWait(time.Second))
	if errors.Is(err, nats.ErrTimeout) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	msgs := []jetstream.Msg{first}
	more, err := cons.FetchNoWait(batchSize - 1)
	if err != nil {
		return msgs, nil // the first is worth applying; the rest come next time
	}
	for m := range more.Messages() {
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// apply stores a batch and only then acknowledges it, to JetStream and to
// each plant. A store failure is retried with the same batch, so records
// apply in order; on shutdown the batch is left unacknowledged and
// JetStream redelivers it.
func (hub *hub) apply(ctx context.Context, msgs []jetstream.Msg) {
	batch := make([]storage.HistoryMessage, len(msgs))
	for i, m := range msgs {
		if err := json.Unmarshal(m.Data(), &batch[i]); err != nil {
			// Kept as rejected under its position in HISTORY_ALL.
			batch[i] = storage.HistoryMessage{Record: m.Data()}
			if meta, err := m.Metadata(); err == nil {
				batch[i].Seq = int64(meta.Sequence.Stream)
			}
		}
	}
	for {
		res, err := hub.h.cfg.Store.ApplyHistory(ctx, batch)
		if err == nil {
			for _, r := range res.Rejected {
				hub.h.log.Error("history: record rejected; kept in history_rejected", "origin", r.Origin, "seq", r.Seq, "id", r.ID, "reason", r.Reason)
			}
			break
		}
		hub.h.log.Warn("history: apply; retrying", "records", len(batch), "err", err)
		if !sleepCtx(ctx, retryAfter) {
			return
		}
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			hub.h.log.Warn("history: acknowledge to JetStream (it will redeliver; applying is idempotent)", "err", err)
		}
	}
	marks := map[string]int64{}
	for _, m := range batch {
		if m.Origin != "" {
			marks[m.Origin] = max(marks[m.Origin], m.Seq)
		}
	}
	hub.sendAcks(marks)
}

// sendAcks tells each origin the highest of its sequences applied here.
// Acknowledgements are plain NATS messages: one lost is made good by the
// next, or by resendAcks.
func (hub *hub) sendAcks(marks map[string]int64) {
	nc := hub.h.cfg.Bus.Conn()
	for origin, seq := range marks {
		if err := nc.Publish(ackPrefix+origin, []byte(strconv.FormatInt(seq, 10))); err != nil {
			hub.h.log.Debug("history: send acknowledgement", "origin", origin, "err", err)
		}
	}
}

// resendAcks sends every plant its applied mark again, for a plant that
// restarted or whose link came back.
func (hub *hub) resendAcks(ctx context.Context) {
	marks, err := hub.h.cfg.Store.HistoryMarks(ctx)
	if err != nil {
		hub.h.log.Warn("history: read applied marks", "err", err)
		return
	}
	hub.sendAcks(marks)
}

// hasPeers reports whether other voters source this one's history; when
// the configuration cannot be read it answers yes, which keeps records.
func (hub *hub) hasPeers(ctx context.Context) bool {
	members, err := hub.h.cfg.Members(ctx)
	if err != nil {
		return true
	}
	for _, m := range members {
		if m.Voter && m.ID != hub.h.cfg.NodeID {
			return true
		}
	}
	return false
}

// purgeApplied removes from HISTORY_ALL what the store has applied: the
// messages at or below the consumer's acknowledgement floor. JetStream
// keeps each source's position in its own index, not in the messages, so
// nothing needs to stay for the sources to resume. (Purging by subject,
// keeping each source's last message, lost sourced messages in a test:
// TestHistoryVotersHoldEveryonesHistory under load.)
func (hub *hub) purgeApplied(ctx context.Context) {
	cons := hub.consumer()
	if cons == nil {
		return
	}
	info, err := cons.Info(ctx)
	if err != nil {
		hub.h.log.Warn("history: consumer "+consumerName, "err", err)
		return
	}
	below := info.AckFloor.Stream + 1
	if below <= hub.purged+1 {
		return
	}
	if err := hub.h.cfg.Bus.Purge(ctx, Aggregate, below); err != nil {
		hub.h.log.Warn("history: purge applied records", "err", err)
		return
	}
	hub.purged = below - 1
}

// unapplied is how many sourced messages wait to be applied here.
func (hub *hub) unapplied(ctx context.Context) (int64, error) {
	cons := hub.consumer()
	if cons == nil {
		return 0, nil
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", consumerName, err)
	}
	return int64(info.NumPending) + int64(info.NumAckPending), nil
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
