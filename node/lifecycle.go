package node

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The node's lifecycle. Start opens the node's parts in order, and each
// part, once open, says how it stops (onStop). Background work runs under
// the node's lifetime context (background). stop ends the lifetime, waits
// for the background work, then stops the parts in the reverse order of
// their start; a Start that fails halfway unwinds what it opened the same
// way.

// part is one thing Start opened, and how to stop it.
type part struct {
	name string
	stop func(ctx context.Context) error
}

// onStop records how the part Start just opened stops.
func (n *Node) onStop(name string, stop func(ctx context.Context) error) {
	n.parts = append(n.parts, part{name: name, stop: stop})
}

// background runs f under the node's lifetime; stop ends the lifetime and
// waits for f to return before it stops any part.
func (n *Node) background(f func(ctx context.Context)) {
	n.work.Add(1)
	go func() {
		defer n.work.Done()
		f(n.lifetime)
	}()
}

// stop ends the lifetime, waits for the background work, and stops every
// part Start opened, the last opened first.
func (n *Node) stop(ctx context.Context) error {
	n.stopped = true
	n.endLifetime()
	n.stopStep(ctx, "background work", func(context.Context) error { n.work.Wait(); return nil })
	var errs []error
	for i := len(n.parts) - 1; i >= 0; i-- {
		p := n.parts[i]
		if err := n.stopStep(ctx, p.name, p.stop); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", p.name, err))
		}
	}
	n.parts = nil
	if len(errs) == 0 {
		n.log.Info("node stopped")
	}
	return errors.Join(errs...)
}

// slowStop is how long one step of a stop may take before it is logged:
// a stop that runs out of time names the step that used it up.
const slowStop = 5 * time.Second

func (n *Node) stopStep(ctx context.Context, name string, stop func(context.Context) error) error {
	start := time.Now()
	err := stop(ctx)
	if d := time.Since(start); d > slowStop {
		n.log.Error("slow to stop", "part", name, "took", d.Round(time.Millisecond), "err", err)
	}
	return err
}
