package queue

import (
	"context"
	"testing"

	"siteline/storage"
	"siteline/web"
)

// BenchmarkQueueOfferLatency measures a team request from its queueing
// (Enqueue, as a redemption or a transfer makes it) to the offer event
// delivered to a member's page subscriber, through the dispatcher's run
// loop, over in-memory fakes of the store: the dispatcher's own cost.
func BenchmarkQueueOfferLatency(b *testing.B) {
	r := newRig(b, storage.StrategyRoundRobin)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	delivered := make(chan string, 1)
	r.pages.hook = func(_ string, e web.Event) {
		if e.Type == web.EventIncomingCall {
			delivered <- e.CallID
		}
	}
	go r.svc.Run(ctx)
	b.ResetTimer()
	for b.Loop() {
		id := r.request(b)
		for got := <-delivered; got != id; got = <-delivered {
		}
		r.svc.Joined(ctx, id, r.offeredTo(id))
	}
}
