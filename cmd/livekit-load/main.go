// Command livekit-load is siteline-load against a LiveKit server: the same
// client (media/client), the same synthetic media and room shapes and the
// same figures (media/loadgen), over LiveKit's signaling. It lives in a
// module of its own so that LiveKit's protocol library stays out of
// Siteline's.
//
//	livekit-load -url http://127.0.0.1:7880 -key devkey -secret secret -rooms 1 -subs 10 -duration 20s -pid 1234
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"siteline/media/loadgen"
)

func main() {
	var o loadgen.Options
	srv := &server{}
	flag.StringVar(&srv.url, "url", "", "LiveKit base URL, such as http://127.0.0.1:7880")
	flag.StringVar(&srv.key, "key", "devkey", "API key (--dev's default)")
	flag.StringVar(&srv.secret, "secret", "secret", "API secret (--dev's default)")
	flag.StringVar(&srv.prefix, "room", "load", "room name prefix: rooms are PREFIX-0, PREFIX-1...")
	o.Flags(flag.CommandLine)
	flag.Parse()
	if srv.url == "" {
		fmt.Fprintln(os.Stderr, "livekit-load: -url is needed")
		flag.Usage()
		os.Exit(2)
	}
	srv.url = strings.TrimSuffix(srv.url, "/")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := loadgen.Run(ctx, srv, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "livekit-load:", err)
		os.Exit(1)
	}
	res.Print(os.Stdout)
	if n := srv.paused.Load(); n > 0 {
		fmt.Printf("streams paused by LiveKit %d (its congestion control)\n", n)
	}
}
