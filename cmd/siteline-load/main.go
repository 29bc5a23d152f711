// Command siteline-load puts a node's SFU under load: it starts N calls
// with one publisher (synthetic VP8-like video and Opus-like audio, each
// packet carrying its send time) and M subscribers each, all over the
// node's API and signaling WebSocket, runs for a while, and prints the
// forwarded throughput, loss, jitter, added latency and, given the
// server's PID, its CPU and memory from /proc.
//
//	siteline-load -url http://127.0.0.1:8080 -token stl_... -rooms 1 -subs 10 -duration 20s -pid 1234
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.url, "url", "", "node base URL, such as http://127.0.0.1:8080")
	flag.StringVar(&o.token, "token", os.Getenv("SITELINE_TOKEN"), "API token (default $SITELINE_TOKEN)")
	flag.IntVar(&o.rooms, "rooms", 1, "calls to start")
	flag.IntVar(&o.subs, "subs", 10, "subscribers per call")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measuring window, after every subscriber receives and -warmup")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "time between the last subscriber receiving and the window")
	flag.IntVar(&o.pid, "pid", 0, "server process to read CPU and RSS from (/proc/PID)")
	flag.BoolVar(&o.insecure, "insecure", false, "accept a self-signed HTTPS certificate")
	flag.IntVar(&o.videoKbps, "video-kbps", 500, "video payload bit rate of each publisher (1000-byte packets, 30 frames/s)")
	flag.IntVar(&o.parallel, "parallel", 8, "joins in flight at once")
	flag.BoolVar(&o.loopback, "loopback", true, "gather only loopback ICE candidates")
	flag.StringVar(&o.galene, "galene", "", "measure a Galène server instead: its group with auto-subgroups and a wildcard user of password \"bench\" (rooms are GROUP/0, GROUP/1...)")
	flag.Parse()
	if o.url == "" || (o.token == "" && o.galene == "") {
		fmt.Fprintln(os.Stderr, "siteline-load: -url and -token (or -galene) are needed")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "siteline-load:", err)
		os.Exit(1)
	}
	res.print(os.Stdout)
}
