package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	"siteline/storage"
)

// Leaf addresses (storage/leaf.go) on the table of migration 00028.

var _ storage.LeafAddressReader = (*Store)(nil)

// putLeafAddress applies OpPutLeafAddress: the URL must be tls://host:port.
func putLeafAddress(ctx context.Context, q querier, a storage.LeafAddress) error {
	if err := required("leaf_address.node_id", a.NodeID, "leaf_address.url", a.URL); err != nil {
		return err
	}
	if u, err := url.Parse(a.URL); err != nil || u.Scheme != "tls" || u.Hostname() == "" || u.Port() == "" {
		return &storage.ValidationError{Field: "leaf_address.url", Problem: fmt.Sprintf("%q must be tls://host:port", a.URL)}
	}
	return exec(ctx, q, `INSERT INTO leaf_addresses (node_id, url, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (node_id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at`,
		a.NodeID, a.URL, nanos(a.UpdatedAt))
}

func queryLeafAddresses(ctx context.Context, q querier, where string, args ...any) ([]storage.LeafAddress, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.LeafAddress, error) {
		var a storage.LeafAddress
		err := r.Scan(&a.NodeID, &a.URL, timeDest{&a.UpdatedAt})
		return a, err
	}, `SELECT node_id, url, updated_at FROM leaf_addresses `+where+` ORDER BY node_id`, args...)
}

// LeafAddress returns a node's announced leaf address.
func (s *Store) LeafAddress(ctx context.Context, nodeID string) (storage.LeafAddress, error) {
	out, err := queryLeafAddresses(ctx, s.read, "WHERE node_id = ?", nodeID)
	if err != nil {
		return storage.LeafAddress{}, fmt.Errorf("leaf address of node %s: %w", nodeID, err)
	}
	if len(out) == 0 {
		return storage.LeafAddress{}, fmt.Errorf("leaf address of node %s: %w", nodeID, storage.ErrNotFound)
	}
	return out[0], nil
}
