package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"siteline/media/client"
	"siteline/media/signal"
)

// Server is the SFU under test, as the load generator needs it.
type Server interface {
	// Room returns the name of room r (0, 1, ...) to join, starting the
	// call first where the server needs that.
	Room(ctx context.Context, r int) (string, error)
	// Dial opens the signaling connection of participant name in room.
	// A subscriber (subscribe true) must be sent every track of the
	// room; a publisher need not receive anything.
	Dial(ctx context.Context, room, name string, subscribe bool) (client.Signaler, error)
}

// Options are the room shapes and the measuring window.
type Options struct {
	Rooms     int           // rooms to start, one publisher each
	Subs      int           // subscribers per room
	Duration  time.Duration // measuring window
	Warmup    time.Duration // from every subscriber receiving both tracks to the window
	PID       int           // server process to read CPU and RSS from; 0 for none
	VideoKbps int           // video payload bit rate of each publisher
	Parallel  int           // joins in flight at once
	Loopback  bool          // gather only loopback ICE candidates
}

// Flags registers the options on fs with their defaults, the same for
// every load command.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Rooms, "rooms", 1, "rooms (calls) to start, one publisher each")
	fs.IntVar(&o.Subs, "subs", 10, "subscribers per room")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "measuring window, after every subscriber receives and -warmup")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "time between the last subscriber receiving and the window")
	fs.IntVar(&o.PID, "pid", 0, "server process to read CPU and RSS from (/proc/PID)")
	fs.IntVar(&o.VideoKbps, "video-kbps", 500, "video payload bit rate of each publisher (1000-byte packets, 30 frames/s)")
	fs.IntVar(&o.Parallel, "parallel", 8, "joins in flight at once")
	fs.BoolVar(&o.Loopback, "loopback", true, "gather only loopback ICE candidates")
}

// Result is one run's figures.
type Result struct {
	o       Options
	sum     client.Summary
	cpu     float64 // server CPU seconds in the window
	rssIdle int64   // server RSS before the first call
	rss     int64   // server RSS at the end of the window
	setup   time.Duration
	// firstRTP is, for each subscriber, the time from the start of its join
	// (dialling the signaling socket) to its first video packet.
	firstRTP  []time.Duration
	withProc  bool
	published uint64 // packets the publishers sent in the window
}

// Run starts o.Rooms rooms on srv, measures them for o.Duration and
// closes every participant before it returns.
func Run(ctx context.Context, srv Server, o Options) (*Result, error) {
	res := &Result{o: o, withProc: o.PID != 0}
	if res.withProc {
		p, err := readProc(o.PID)
		if err != nil {
			return nil, err
		}
		res.rssIdle = p.rss
	}
	begin := time.Now()
	var all []*client.Client
	defer func() {
		var wg sync.WaitGroup
		for _, c := range all {
			wg.Add(1)
			go func() { defer wg.Done(); _ = c.Close() }()
		}
		wg.Wait()
	}()
	var subs []*client.Client
	var joinedAt []time.Time
	var pubs []*client.Publication
	for r := range o.Rooms {
		room, err := srv.Room(ctx, r)
		if err != nil {
			return nil, err
		}
		pub, err := join(ctx, srv, o, room, fmt.Sprintf("pub-%d", r), false)
		if err != nil {
			return nil, err
		}
		all = append(all, pub)
		ppf := max(1, (o.VideoKbps*1000/8+15000)/30000) // 1000-byte packets at 30 frames/s
		p, err := pub.Publish(ctx, client.TrackSpec{Kind: "video", PacketsPerFrame: ppf}, client.TrackSpec{Kind: "audio"})
		if err != nil {
			return nil, fmt.Errorf("room %d: %w", r, err)
		}
		pubs = append(pubs, p...)
		// Galène offers a stream to those who asked before it had
		// tracks, then closes it and offers nothing: subscribers join
		// once the publisher's media flows (for every server alike).
		if err := waitSending(ctx, pub, 15*time.Second); err != nil {
			return nil, fmt.Errorf("room %d: %w", r, err)
		}
		cs, starts, err := joinMany(ctx, srv, o, room, r)
		all = append(all, cs...)
		if err != nil {
			return nil, err
		}
		subs = append(subs, cs...)
		joinedAt = append(joinedAt, starts...)
	}
	if err := waitReceiving(ctx, subs, 2, 60*time.Second); err != nil {
		return nil, err
	}
	res.setup = time.Since(begin)
	for i, c := range subs {
		for _, t := range c.Tracks() {
			if st := t.Stats(); t.Kind == "video" && !st.FirstAt.IsZero() {
				res.firstRTP = append(res.firstRTP, st.FirstAt.Sub(joinedAt[i]))
				break
			}
		}
	}
	slices.Sort(res.firstRTP)
	if err := sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}

	m := client.NewMeter(subs)
	var p0 procSample
	if res.withProc {
		var err error
		if p0, err = readProc(o.PID); err != nil {
			return nil, err
		}
	}
	sent0 := sentTotal(pubs)
	m.Start()
	tick := time.NewTicker(250 * time.Millisecond)
	end := time.After(o.Duration)
loop:
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
			m.Sample()
		case <-end:
			break loop
		}
	}
	tick.Stop()
	res.sum = m.Stop()
	res.published = sentTotal(pubs) - sent0
	if res.withProc {
		p1, err := readProc(o.PID)
		if err != nil {
			return nil, err
		}
		res.cpu, res.rss = p1.cpu-p0.cpu, p1.rss
	}
	return res, nil
}

func sentTotal(pubs []*client.Publication) uint64 {
	var n uint64
	for _, p := range pubs {
		for _, s := range p.Sent() {
			n += s
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// join opens a participant's signaling connection and joins the room.
func join(ctx context.Context, srv Server, o Options, room, name string, subscribe bool) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sig, err := srv.Dial(ctx, room, name, subscribe)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c, err := client.New(client.Config{Name: name, LoopbackOnly: o.Loopback}, sig)
	if err != nil {
		_ = sig.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.Join(ctx, room, client.JoinOptions{}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// joinMany joins the subscribers of room number r, o.Parallel at a time,
// and returns when each one's join started.
func joinMany(ctx context.Context, srv Server, o Options, room string, r int) ([]*client.Client, []time.Time, error) {
	out := make([]*client.Client, o.Subs)
	starts := make([]time.Time, o.Subs)
	errs := make([]error, o.Subs)
	sem := make(chan struct{}, max(1, o.Parallel))
	var wg sync.WaitGroup
	for i := range o.Subs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			starts[i] = time.Now()
			out[i], errs[i] = join(ctx, srv, o, room, fmt.Sprintf("sub-%d-%d", r, i), true)
		}()
	}
	wg.Wait()
	var joined []*client.Client
	var at []time.Time
	for i, c := range out {
		if c != nil {
			joined = append(joined, c)
			at = append(at, starts[i])
		}
	}
	return joined, at, errors.Join(errs...)
}

// waitSending waits until the publisher's connection is up, then a
// second for its first frames to reach the server.
func waitSending(ctx context.Context, pub *client.Client, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		switch pub.Conn(signal.TargetPublish).ICE {
		case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
			return sleep(ctx, time.Second)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("publisher not connected after %s", limit)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitReceiving waits until every subscriber receives tracks tracks.
func waitReceiving(ctx context.Context, subs []*client.Client, tracks int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		waiting := 0
		for _, c := range subs {
			n := 0
			for _, r := range c.Tracks() {
				if r.Stats().Unique > 0 {
					n++
				}
			}
			if n < tracks {
				waiting++
			}
		}
		if waiting == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d subscribers still not receiving %d tracks after %s", waiting, len(subs), tracks, limit)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}
