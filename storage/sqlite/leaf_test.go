package sqlite

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"siteline/storage"
)

// A node's leaf address is replicated: applied, replaced by a later
// announcement, refused when it is not tls://host:port, and carried by
// snapshots.
func TestLeafAddressApplyAndSnapshot(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	if _, err := s.LeafAddress(ctx, "hq"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("address of a node that announced none = %v, want ErrNotFound", err)
	}
	put := func(url string, at time.Time) storage.Command {
		return cmd(storage.Change{Op: storage.OpPutLeafAddress, LeafAddress: &storage.LeafAddress{NodeID: "hq", URL: url, UpdatedAt: at}})
	}
	mustApply(t, s, 1, put("tls://hq.example:7422", t0))
	mustApply(t, s, 2, put("tls://hq.example:7522", t0.Add(time.Minute)))
	for i, bad := range []string{"nats://hq.example:7422", "tls://hq.example", "hq.example:7422", ""} {
		err := s.Apply(ctx, uint64(3+i), put(bad, t0))
		var ve *storage.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("leaf address %q = %v, want a validation error", bad, err)
		}
	}
	a, err := s.LeafAddress(ctx, "hq")
	if err != nil || a.URL != "tls://hq.example:7522" || !a.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("address = %+v, %v; want the later announcement", a, err)
	}
	var buf bytes.Buffer
	if err := s.Snapshot(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dst, _ := openTestStore(t)
	mustApply(t, dst, 1, cmd(storage.Change{Op: storage.OpPutLeafAddress, LeafAddress: &storage.LeafAddress{NodeID: "gone", URL: "tls://old:1", UpdatedAt: t0}}))
	if err := dst.Restore(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	if a, err := dst.LeafAddress(ctx, "hq"); err != nil || a.URL != "tls://hq.example:7522" {
		t.Fatalf("restored address = %+v, %v", a, err)
	}
	if _, err := dst.LeafAddress(ctx, "gone"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an address from before the restore remains: %v", err)
	}
}
