package node

import (
	"context"
	"testing"
	"time"

	"siteline/node/federation"
)

// Headquarters restarts on another leaf port: it announces the new address
// through the replicated log, and the running plant relinks to it with no
// operator; a restarted plant links to it from the start.
func TestPlantFollowsItsHubsNewLeafAddress(t *testing.T) {
	nodes := startFederation(t, 1, 1, nil)
	hq, plant := nodes[0], nodes[1]
	eventually(t, 20*time.Second, "the plant's leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	announced := func(node *testNode, url string) func() bool {
		return func() bool {
			a, err := node.n.store.LeafAddress(context.Background(), hq.n.nodeID)
			return err == nil && a.URL == url
		}
	}
	before := hq.n.LeafURL()
	eventually(t, 20*time.Second, "headquarters' address at the plant", announced(plant, before))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hq.n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the link to go down", func() bool { return plant.n.bus.LeafLinks() == 0 })
	cfg := hq.cfg
	cfg.NATS.LeafListen = freeAddr(t, "127.0.0.1")
	hq = startNodeAsIs(t, cfg, Options{})
	moved := hq.n.LeafURL()
	if moved == before {
		t.Fatalf("headquarters did not move: %s", moved)
	}
	eventually(t, 30*time.Second, "the new address at the plant", announced(plant, moved))
	eventually(t, 30*time.Second, "the plant to link to the moved hub", func() bool {
		return plant.n.bus.LeafLinks() == 1 && hq.n.bus.LeafLinks() == 1
	})
	// The address it keeps for its next start, saved once it relinked.
	eventually(t, 10*time.Second, "the plant to keep the moved address", func() bool {
		url, _ := plant.n.meta(ctx, federation.MetaLeafURL)
		return url == moved
	})

	// Restarted, the plant links to the address the log holds.
	if err := plant.n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	plant = startNodeAsIs(t, plant.cfg, Options{})
	eventually(t, 30*time.Second, "the restarted plant's link", func() bool {
		return plant.n.bus.LeafLinks() == 1 && hq.n.bus.LeafLinks() == 1
	})
}
