package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"siteline/media/client"
	"siteline/media/signal"
)

type options struct {
	url, token  string
	rooms, subs int
	duration    time.Duration
	warmup      time.Duration
	pid         int
	insecure    bool
	videoKbps   int
	parallel    int
	loopback    bool
	galene      string // a Galène group with auto-subgroups; "" for a Siteline node
}

// result is one run's figures.
type result struct {
	o       options
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

func run(ctx context.Context, o options) (*result, error) {
	o.url = strings.TrimSuffix(o.url, "/")
	var tlsCfg *tls.Config
	if o.insecure {
		tlsCfg = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // -insecure, for self-signed test nodes
	}
	hc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	res := &result{o: o, withProc: o.pid != 0}
	if res.withProc {
		p, err := readProc(o.pid)
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
	for r := range o.rooms {
		callID := fmt.Sprintf("%s/%d", o.galene, r)
		if o.galene == "" {
			var err error
			if callID, err = createCall(ctx, hc, o, fmt.Sprintf("load %d", r)); err != nil {
				return nil, err
			}
		}
		pub, err := join(ctx, o, tlsCfg, callID, fmt.Sprintf("pub-%d", r), false)
		if err != nil {
			return nil, err
		}
		all = append(all, pub)
		ppf := max(1, (o.videoKbps*1000/8+15000)/30000) // 1000-byte packets at 30 frames/s
		p, err := pub.Publish(ctx, client.TrackSpec{Kind: "video", PacketsPerFrame: ppf}, client.TrackSpec{Kind: "audio"})
		if err != nil {
			return nil, fmt.Errorf("room %d: %w", r, err)
		}
		pubs = append(pubs, p...)
		// Galène offers a stream to those who asked before it had
		// tracks, then closes it and offers nothing: subscribers join
		// once the publisher's media flows (for both servers alike).
		if err := waitSending(ctx, pub, 15*time.Second); err != nil {
			return nil, fmt.Errorf("room %d: %w", r, err)
		}
		cs, starts, err := joinMany(ctx, o, tlsCfg, callID, r)
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
	if err := sleep(ctx, o.warmup); err != nil {
		return nil, err
	}

	m := client.NewMeter(subs)
	var p0 procSample
	if res.withProc {
		var err error
		if p0, err = readProc(o.pid); err != nil {
			return nil, err
		}
	}
	sent0 := sentTotal(pubs)
	m.Start()
	tick := time.NewTicker(250 * time.Millisecond)
	end := time.After(o.duration)
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
		p1, err := readProc(o.pid)
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

// createCall starts a call through POST /api/v1/calls.
func createCall(ctx context.Context, hc *http.Client, o options, name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": name, "goal": "siteline-load"})
	req, err := http.NewRequestWithContext(ctx, "POST", o.url+"/api/v1/calls", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("create call: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("create call: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create call: %s: %s", resp.Status, data)
	}
	var s struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &s); err != nil || s.ID == "" {
		return "", fmt.Errorf("create call: no id in %s", data)
	}
	return s.ID, nil
}

// join opens a participant's signaling socket and joins the call.
func join(ctx context.Context, o options, tlsCfg *tls.Config, callID, name string, subscribe bool) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var ws client.Signaler
	var err error
	if o.galene != "" {
		ws, err = dialGalene(ctx, o.url, tlsCfg, name, subscribe)
	} else {
		ws, err = client.DialWS(ctx, o.url+"/api/v1/calls/"+callID+"/signal", client.WSOptions{Token: o.token, TLS: tlsCfg})
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c, err := client.New(client.Config{Name: name, LoopbackOnly: o.loopback}, ws)
	if err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.Join(ctx, callID, client.JoinOptions{}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// joinMany joins the subscribers of room r, o.parallel at a time, and
// returns when each one's join started.
func joinMany(ctx context.Context, o options, tlsCfg *tls.Config, callID string, r int) ([]*client.Client, []time.Time, error) {
	out := make([]*client.Client, o.subs)
	starts := make([]time.Time, o.subs)
	errs := make([]error, o.subs)
	sem := make(chan struct{}, max(1, o.parallel))
	var wg sync.WaitGroup
	for i := range o.subs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			starts[i] = time.Now()
			out[i], errs[i] = join(ctx, o, tlsCfg, callID, fmt.Sprintf("sub-%d-%d", r, i), true)
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

func (r *result) print(w io.Writer) {
	s := r.sum
	nsubs := r.o.rooms * r.o.subs
	fmt.Fprintf(w, "rooms %d, subscribers per room %d, window %.1f s (setup %.1f s)\n", r.o.rooms, r.o.subs, s.Window.Seconds(), r.setup.Seconds())
	fmt.Fprintf(w, "published packets/s  %.0f\n", float64(r.published)/s.Window.Seconds())
	fmt.Fprintf(w, "forwarded Mbit/s     %.2f (RTP payload)\n", s.Mbps())
	fmt.Fprintf(w, "forwarded packets/s  %.0f over %d tracks\n", s.PacketRate(), s.Tracks)
	fmt.Fprintf(w, "loss                 %.3f %%\n", s.LossPercent())
	fmt.Fprintf(w, "jitter p50/p99       %.2f / %.2f ms\n", ms(client.Quantile(s.Jitter, 0.50)), ms(client.Quantile(s.Jitter, 0.99)))
	fmt.Fprintf(w, "added latency p50/p99 %.2f / %.2f ms (250 ms interval means)\n", ms(s.LatencyP[0]), ms(s.LatencyP[1]))
	if len(r.firstRTP) > 0 {
		fmt.Fprintf(w, "join to first video RTP p50/p99 %.0f / %.0f ms (%d subscribers, %d joining at once)\n",
			ms(client.Quantile(r.firstRTP, 0.50)), ms(client.Quantile(r.firstRTP, 0.99)), len(r.firstRTP), r.o.parallel)
	}
	if !r.withProc {
		return
	}
	cores := r.cpu / s.Window.Seconds()
	fmt.Fprintf(w, "server CPU           %.2f s = %.3f cores\n", r.cpu, cores)
	if rate := s.Mbps(); rate > 0 {
		fmt.Fprintf(w, "server CPU s/Mbit    %.5f (%.1f Mbit/s per core)\n", r.cpu/(rate*s.Window.Seconds()), rate/cores)
	}
	fmt.Fprintf(w, "server RSS           %.1f MB (idle before the run %.1f MB)\n", mb(r.rss), mb(r.rssIdle))
	if nsubs > 0 {
		fmt.Fprintf(w, "server RSS/subscriber %.2f MB ((end - idle) / %d)\n", mb(r.rss-r.rssIdle)/float64(nsubs), nsubs)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mb(b int64) float64         { return float64(b) / 1e6 }
