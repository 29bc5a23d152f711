package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"siteline/node"
	"siteline/node/apiclient"
)

// clusterCmd runs the federation subcommands: init, token, join, leave,
// status, transfer.
func clusterCmd(fs *flag.FlagSet) runner {
	var c common
	c.register(fs)
	var r remote
	r.register(fs, "join: URL of a voter; token, status, transfer: a remote node (uses the API token in $SITELINE_TOKEN)")
	token := fs.String("token", "", "join: the join token")
	voter := fs.Bool("voter", false, "token: the token admits a voter (headquarters, gets the CA key) instead of a plant; join: refuse unless the token admits a voter")
	ttl := fs.String("ttl", "1h", "token: how long the join token is valid")
	to := fs.String("to", "", "transfer: the node to hand leadership to (default: any voter)")
	return func(sub string, pos []string) error {
		if err := noArgs(pos); err != nil {
			return err
		}
		if sub == "join" {
			return clusterJoin(c, r, *token, *voter)
		}
		return cluster(c, r, sub, *voter, *ttl, *to)
	}
}

func cluster(c common, r remote, sub string, voter bool, ttl, to string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(fn func(*apiclient.Client) error) error { return c.operate(ctx, r, fn) }
	status := func(cl *apiclient.Client) (apiclient.ClusterStatus, error) {
		var st apiclient.ClusterStatus
		return st, cl.Do(ctx, "GET", "/cluster", nil, &st)
	}
	switch sub {
	case "init":
		return run(func(cl *apiclient.Client) error {
			st, err := status(cl)
			if err != nil {
				return err
			}
			fmt.Printf("Federation CA ready on node %s (fingerprint %s).\n", st.NodeID, st.CAFingerprint)
			fmt.Println("Give raft.listen (and raft.advertise) a fixed address other nodes can reach, then mint join tokens with: siteline cluster token")
			return nil
		})
	case "token":
		return run(func(cl *apiclient.Client) error {
			var t apiclient.JoinToken
			role := "plant"
			if voter {
				role = "voter"
			}
			if err := cl.Do(ctx, "POST", "/cluster/tokens", map[string]string{"ttl": ttl, "role": role}, &t); err != nil {
				return err
			}
			fmt.Printf("Join token for a %s (one use, expires %s):\n%s\n\n", t.Role, t.ExpiresAt.Format(time.RFC3339), t.Token)
			fmt.Printf("On the new node: %s\n", joinCommand(t))
			return nil
		})
	case "status":
		return run(func(cl *apiclient.Client) error {
			st, err := status(cl)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tSITE\tROLE\tADDRESS\tAPPLIED\tLAG\tLAST CONTACT\tLINK\tHISTORY BACKLOG\tHISTORY LINK")
			for _, n := range st.Nodes {
				lc := "-"
				if n.LastContact != nil {
					lc = time.Since(*n.LastContact).Round(time.Millisecond).String() + " ago"
				}
				backlog, hlink := "-", n.HistoryLink
				if n.HistoryBacklog != nil {
					backlog = fmt.Sprint(*n.HistoryBacklog)
				}
				if hlink == "" {
					hlink = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", n.ID, n.Site, n.Role, n.Address, n.AppliedIndex, n.Lag, lc, n.Link, backlog, hlink)
			}
			return tw.Flush()
		})
	case "leave":
		return run(func(cl *apiclient.Client) error {
			st, err := status(cl)
			if err != nil {
				return err
			}
			if err := cl.Do(ctx, "DELETE", "/cluster/nodes/"+st.NodeID, nil, nil); err != nil {
				return err
			}
			fmt.Printf("Node %s left the federation.\n", st.NodeID)
			return nil
		})
	case "transfer":
		return run(func(cl *apiclient.Client) error {
			return cl.Do(ctx, "POST", "/cluster/leader/transfer", map[string]string{"to": to}, nil)
		})
	}
	return usageError(fmt.Sprintf("unknown subcommand %q", sub))
}

// clusterJoin starts a new node that joins the federation at server, then
// serves like `siteline serve` until stopped. Later starts are plain
// `siteline serve`: the node remembers its federation.
func clusterJoin(c common, r remote, token string, voter bool) error {
	server := r.server
	if server == "" || token == "" {
		return usageError("cluster join needs -server and -token")
	}
	cfg, err := c.load(nil)
	if err != nil {
		return err
	}
	n, err := node.New(cfg, node.Options{Stdout: os.Stdout, Join: &node.JoinOptions{Server: server, Token: token, Voter: voter, Insecure: r.insecure, Fingerprint: r.fingerprint}})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx); err != nil {
		return trustAdvice(err)
	}
	fmt.Printf("\nJoined the federation through %s; serving at %s. Stop with Ctrl-C.\n", server, n.URL())
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	return n.Shutdown(shutdown)
}

// joinCommand is the command line that redeems t on a new node; it pins
// the server's self-signed certificate by its fingerprint.
func joinCommand(t apiclient.JoinToken) string {
	cmd := fmt.Sprintf("siteline cluster join -server %s -token %s", t.Server, t.Token)
	if t.Role == "voter" {
		cmd += " -voter"
	}
	if t.Fingerprint != "" {
		cmd += " -fingerprint " + t.Fingerprint
	}
	return cmd
}
