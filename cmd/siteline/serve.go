package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"siteline/node"
	"siteline/node/apiclient"
)

// common holds the flags every command shares.
type common struct {
	config, data string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "config file (default: $SITELINE_CONFIG, else DATA/siteline.yaml if present)")
	fs.StringVar(&c.data, "data", "", "data directory (default ./siteline-data, or $SITELINE_DATA_DIR)")
}

func (c *common) load(more func(*node.Config)) (node.Config, error) {
	return node.LoadConfig(c.config, os.Environ(), func(cfg *node.Config) {
		if c.data != "" {
			cfg.DataDir = c.data
		}
		if more != nil {
			more(cfg)
		}
	})
}

// operate runs fn against a node: the remote one at server with the API
// token in $SITELINE_TOKEN, else the one owning the data directory (through
// its admin socket, or opened offline when it is not running).
func (c *common) operate(ctx context.Context, server string, insecure bool, fn func(*apiclient.Client) error) error {
	if server != "" {
		tok := os.Getenv("SITELINE_TOKEN")
		if tok == "" {
			return errors.New("-server needs an API token in $SITELINE_TOKEN")
		}
		return fn(apiclient.Remote(server, tok, insecure))
	}
	cfg, err := c.load(nil)
	if err != nil {
		return err
	}
	return operateLocal(ctx, cfg, os.Stdout, fn)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	var c common
	c.register(fs)
	httpAddr := fs.String("http", "", "HTTP listen address (default :8443)")
	tlsMode := fs.String("tls", "", "auto (self-signed), files or off")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	fs.Parse(args)
	cfg, err := c.load(func(cfg *node.Config) {
		set(&cfg.HTTP.Listen, *httpAddr)
		set(&cfg.HTTP.TLS, *tlsMode)
		set(&cfg.Log.Level, *logLevel)
	})
	if err != nil {
		return err
	}
	n, err := node.New(cfg, node.Options{Stdout: os.Stdout})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx); err != nil {
		return err
	}
	dir, _ := filepath.Abs(cfg.DataDir)
	fmt.Printf("\nSiteline %s is running at %s\n", node.Version, n.URL())
	fmt.Printf("Data directory: %s\n", dir)
	if first := filepath.Join(dir, node.InitialPasswordFile); fileExists(first) {
		fmt.Printf("Log in as %s (first password in %s; the first login asks for a new one).\n", cfg.Organisation.AdminEmail, first)
	}
	fmt.Printf("Stop with Ctrl-C.\n\n")
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	return n.Shutdown(shutdown)
}

func initNode(args []string) error {
	fs := flag.NewFlagSet("init", flag.ExitOnError)
	var c common
	c.register(fs)
	org := fs.String("org", "", "organisation name")
	site := fs.String("site", "", "site (plant) name")
	email := fs.String("admin-email", "", "first administrator's e-mail")
	fs.Parse(args)
	cfg, err := c.load(func(cfg *node.Config) {
		set(&cfg.Organisation.Name, *org)
		set(&cfg.Node.Site, *site)
		set(&cfg.Organisation.AdminEmail, *email)
	})
	if err != nil {
		return err
	}
	if err := node.WriteConfigFile(cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return operateLocal(ctx, cfg, os.Stdout, func(cl *apiclient.Client) error {
		var v struct{ Version string }
		if err := cl.Do(ctx, "GET", "/version", nil, &v); err != nil {
			return err
		}
		fmt.Printf("Node data directory %s is ready; start it with: siteline serve -data %s\n", cfg.DataDir, cfg.DataDir)
		return nil
	})
}

func set(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func version() string { return "siteline " + node.Version }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// operateLocal runs fn with a client of the node that owns cfg.DataDir:
// the running node through its admin socket, or, when none runs, the data
// directory itself opened by a node started offline for the purpose (no
// public listener, no bus) and stopped afterwards. Either way every change
// takes the same path through the API and the replicated log.
func operateLocal(ctx context.Context, cfg node.Config, stdout io.Writer, fn func(*apiclient.Client) error) error {
	c := apiclient.Socket(node.AdminSocketPath(cfg.DataDir))
	if err := c.Do(ctx, http.MethodGet, "/version", nil, nil); err == nil {
		return fn(c)
	} else if !isNoNode(err) {
		return err
	}
	cfg.Log.Level = "error"
	n, err := node.New(cfg, node.Options{Offline: true, Stdout: stdout})
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	runErr := fn(apiclient.Socket(n.AdminSocket()))
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(runErr, n.Shutdown(stopCtx))
}

// isNoNode tells "no node listens on the socket" from other failures.
func isNoNode(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && ne.Op == "dial"
}
