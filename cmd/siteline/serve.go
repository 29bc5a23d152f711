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
	fs.StringVar(&c.config, "config", "", "config `FILE` (default: $SITELINE_CONFIG, else DATA/siteline.yaml if present)")
	fs.StringVar(&c.data, "data", "", "the node's data directory `DIR` (default ./siteline-data, or $SITELINE_DATA_DIR)")
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

// remote is the flags that point a command at a node over HTTPS instead
// of the node of the local data directory.
type remote struct {
	server      string
	insecure    bool
	fingerprint string
}

func (r *remote) register(fs *flag.FlagSet, serverUsage string) {
	fs.StringVar(&r.server, "server", "", serverUsage)
	fs.StringVar(&r.fingerprint, "fingerprint", "", "trust the server's HTTPS certificate with this SHA-256 fingerprint (sha256:...), such as a node's self-signed one")
	fs.BoolVar(&r.insecure, "insecure", false, "accept any HTTPS certificate from the server (prefer -fingerprint)")
}

func (r remote) trust() apiclient.Trust {
	return apiclient.Trust{Insecure: r.insecure, Fingerprint: r.fingerprint}
}

// remoteUsage is -server's usage for commands that run on any node.
const remoteUsage = "URL of a remote node (uses the API token in $SITELINE_TOKEN); default: the node of the local data directory"

// operate runs fn against a node: the remote one at r.server with the API
// token in $SITELINE_TOKEN, else the one owning the data directory (through
// its admin socket, or opened offline when it is not running). A data
// directory that holds no node is an error: these commands never create
// one.
func (c *common) operate(ctx context.Context, r remote, fn func(*apiclient.Client) error) error {
	if r.server != "" {
		tok := os.Getenv("SITELINE_TOKEN")
		if tok == "" {
			return errors.New("-server needs an API token in $SITELINE_TOKEN")
		}
		cl, err := apiclient.Remote(r.server, tok, r.trust())
		if err != nil {
			return err
		}
		return trustAdvice(fn(cl))
	}
	cfg, err := c.load(nil)
	if err != nil {
		return err
	}
	if err := c.mustExist(cfg); err != nil {
		return err
	}
	return operateLocal(ctx, cfg, os.Stdout, fn)
}

// mustExist says, when cfg's data directory holds no node, where the
// command looked and how to point it at a node.
func (c *common) mustExist(cfg node.Config) error {
	ok, err := node.Exists(cfg.DataDir)
	if err != nil || ok {
		return err
	}
	dir, _ := filepath.Abs(cfg.DataDir)
	how := "pass -data DIR (the node's data directory) or -config FILE (its siteline.yaml), or set $SITELINE_DATA_DIR"
	if c.config != "" || c.data != "" {
		how = "check the path given to -data or -config"
	}
	return fmt.Errorf("no Siteline node found in %s (there is no %s there); %s. To create a node, run: siteline init -data DIR",
		dir, "siteline.db", how)
}

// trustAdvice adds to a failed call, when the server's certificate was
// not trusted, how to trust it.
func trustAdvice(err error) error {
	var ue *apiclient.UntrustedCertError
	if !errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%w.\nIf this is your node's certificate (its `siteline cluster token` prints the fingerprint to expect), trust it with:\n  -fingerprint %s\nor give the node a certificate from an authority this machine trusts (http.tls: files). -insecure would accept any certificate", err, ue.Fingerprint)
}

func serveCmd(fs *flag.FlagSet) runner {
	var c common
	c.register(fs)
	httpAddr := fs.String("http", "", "HTTP listen address (default :8443)")
	tlsMode := fs.String("tls", "", "auto (self-signed), files or off")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	return func(_ string, pos []string) error {
		if err := noArgs(pos); err != nil {
			return err
		}
		cfg, err := c.load(func(cfg *node.Config) {
			set(&cfg.HTTP.Listen, *httpAddr)
			set(&cfg.HTTP.TLS, *tlsMode)
			set(&cfg.Log.Level, *logLevel)
		})
		if err != nil {
			return err
		}
		return serve(cfg)
	}
}

// serve runs a node until SIGINT or SIGTERM.
func serve(cfg node.Config) error {
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

func initCmd(fs *flag.FlagSet) runner {
	var c common
	c.register(fs)
	org := fs.String("org", "", "organisation name")
	site := fs.String("site", "", "site (plant) name")
	email := fs.String("admin-email", "", "first administrator's e-mail")
	return func(_ string, pos []string) error {
		if err := noArgs(pos); err != nil {
			return err
		}
		cfg, err := c.load(func(cfg *node.Config) {
			set(&cfg.Organisation.Name, *org)
			set(&cfg.Node.Site, *site)
			set(&cfg.Organisation.AdminEmail, *email)
		})
		if err != nil {
			return err
		}
		return initNode(cfg)
	}
}

// initNode creates the data directory of cfg, its config file and its
// organisation.
func initNode(cfg node.Config) error {
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
