// Command siteline-load puts a node's SFU under load: it starts N calls
// with one publisher (synthetic VP8-like video and Opus-like audio, each
// packet carrying its send time) and M subscribers each, all over the
// node's API and signaling WebSocket, runs for a while, and prints the
// forwarded throughput, loss, jitter, added latency and, given the
// server's PID, its CPU and memory from /proc. With -galene it measures a
// Galène server through the same client instead (media/loadgen runs the
// rooms; cmd/livekit-load does the same against LiveKit).
//
//	siteline-load -url http://127.0.0.1:8080 -token stl_... -rooms 1 -subs 10 -duration 20s -pid 1234
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"siteline/media/loadgen"
)

func main() {
	var o loadgen.Options
	var url, token, galeneGroup string
	var insecure bool
	flag.StringVar(&url, "url", "", "node base URL, such as http://127.0.0.1:8080")
	flag.StringVar(&token, "token", os.Getenv("SITELINE_TOKEN"), "API token (default $SITELINE_TOKEN)")
	o.Flags(flag.CommandLine)
	flag.BoolVar(&insecure, "insecure", false, "accept a self-signed HTTPS certificate")
	flag.StringVar(&galeneGroup, "galene", "", "measure a Galène server instead: its group with auto-subgroups and a wildcard user of password \"bench\" (rooms are GROUP/0, GROUP/1...)")
	flag.Parse()
	if url == "" || (token == "" && galeneGroup == "") {
		fmt.Fprintln(os.Stderr, "siteline-load: -url and -token (or -galene) are needed")
		flag.Usage()
		os.Exit(2)
	}
	url = strings.TrimSuffix(url, "/")
	var tlsCfg *tls.Config
	if insecure {
		tlsCfg = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // -insecure, for self-signed test nodes
	}
	var srv loadgen.Server
	if galeneGroup != "" {
		srv = &galeneServer{url: url, group: galeneGroup, tls: tlsCfg}
	} else {
		hc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
		srv = &node{url: url, token: token, tls: tlsCfg, hc: hc}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := loadgen.Run(ctx, srv, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "siteline-load:", err)
		os.Exit(1)
	}
	res.Print(os.Stdout)
}
