package storage

import (
	"context"
	"time"
)

// LeafAddress is where a node accepts the leaf links of plants
// (tls://host:port), as the node announces it through the replicated
// log: a plant that joined through that node follows it when the address
// changes, instead of keeping the one it learnt when it joined.
type LeafAddress struct {
	NodeID    string    `json:"node_id"`
	URL       string    `json:"url"`
	UpdatedAt time.Time `json:"updated_at"`
}

// LeafAddressReader reads the replicated leaf addresses.
type LeafAddressReader interface {
	// LeafAddress returns a node's announced address, ErrNotFound when it
	// announced none.
	LeafAddress(ctx context.Context, nodeID string) (LeafAddress, error)
}
