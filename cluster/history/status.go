package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"siteline/cluster/bus"
)

// Every node answers what its history stands at on
// siteline.history-status.<node id>, over the bus like the history
// itself, so the cluster status shows each node's backlog as that node
// measures it.

const (
	statusPrefix = "siteline.history-status."
	// statusMeasure bounds the measuring of an answer.
	statusMeasure = time.Second
	hdrError      = "Siteline-Error"
)

// Status is what a node tells the others about its history.
type Status struct {
	// Role is "plant" or "hub".
	Role string `json:"role"`
	// Backlog: on a plant, records headquarters has not acknowledged; on
	// a hub, other nodes' records received but not yet applied.
	Backlog int64 `json:"backlog"`
	// Unpublished records are still only in the outbox.
	Unpublished int64 `json:"unpublished"`
	// Links is the number of leaf links up.
	Links int `json:"links"`
}

// Status measures the history backlog now.
func (h *Forwarder) Status(ctx context.Context) (Status, error) {
	st := Status{Role: "plant", Links: h.cfg.Bus.LeafLinks()}
	_, unpublished, unacked, err := h.cfg.Store.HistoryCounts(ctx, h.acked.Load())
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

// serveStatus answers a status request with the Status as JSON, or with
// the error that kept it from being measured (in the Siteline-Error
// header).
func (h *Forwarder) serveStatus(m *nats.Msg) {
	ctx, cancel := context.WithTimeout(h.ctx, statusMeasure)
	defer cancel()
	reply := nats.NewMsg(m.Reply)
	st, err := h.Status(ctx)
	if err == nil {
		reply.Data, err = json.Marshal(st)
	}
	if err != nil {
		h.log.Warn("history: status", "err", err)
		reply.Header.Set(hdrError, err.Error())
		reply.Data = nil
	}
	_ = m.RespondMsg(reply)
}

// AskStatus asks node id what its history stands at, over b. It fails when
// the node does not answer before ctx ends (its bus is out of reach, or it
// forwards no history).
func AskStatus(ctx context.Context, b *bus.Bus, id string) (Status, error) {
	var st Status
	if b == nil {
		return st, errors.New("this node runs without its message bus")
	}
	m, err := b.Conn().RequestWithContext(ctx, statusPrefix+id, nil)
	if err != nil {
		return st, fmt.Errorf("history status of node %s: %w", id, err)
	}
	if e := m.Header.Get(hdrError); e != "" {
		return st, fmt.Errorf("history status of node %s: %s", id, e)
	}
	if err := json.Unmarshal(m.Data, &st); err != nil || st.Role == "" {
		return st, fmt.Errorf("history status of node %s: malformed answer %q", id, m.Data)
	}
	return st, nil
}
