package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A command is one of siteline's commands: its name, what it does in one
// line, its subcommands, and setup, which declares its flags on a flag set
// and returns what runs it once they are parsed.
type command struct {
	name    string
	args    string // what follows the name (and subcommand) on the usage line
	summary string
	subs    []subcommand
	setup   func(fs *flag.FlagSet) runner
}

// A runner runs a command with its subcommand ("" for none) and its
// positional arguments.
type runner func(sub string, pos []string) error

// A subcommand is one of a command's verbs: "user add EMAIL".
type subcommand struct{ name, args, summary string }

// usageError is a command line that asks for nothing the command does: the
// answer is the problem and a pointer to the command's help, exit status 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// commands are siteline's commands, in the order the help lists them.
var commands = []*command{
	{name: "serve", summary: "run a complete node (the default command)", setup: serveCmd},
	{name: "init", summary: "create a data directory, its config file and first administrator", setup: initCmd},
	{name: "user", summary: "manage the users of a node's organisation", setup: userCmd, subs: []subcommand{
		{"add", "EMAIL", "create a user (the password is generated unless -password is given)"},
		{"list", "", "list the users with their roles"},
		{"passwd", "EMAIL", "set a user's password and end their sessions"},
		{"disable", "EMAIL", "disable a user and end their sessions"},
	}},
	{name: "cluster", summary: "form and inspect a federation of nodes", setup: clusterCmd, subs: []subcommand{
		{"init", "", "make a node ready to be joined: print its federation CA"},
		{"token", "", "mint a one-time join token for a plant (or -voter for headquarters)"},
		{"join", "", "start a new node that joins a federation with -server and -token, then serve"},
		{"status", "", "list the federation's nodes, their replication and history links"},
		{"leave", "", "take this node out of the federation"},
		{"transfer", "", "hand Raft leadership to another voter (-to NODE)"},
	}},
	{name: "policy", summary: "read and edit the permission policy", setup: policyCmd, subs: []subcommand{
		{"list", "", "print the policy lines (-role NAME for one role's)"},
		{"grant", "SUBJECT PERMISSION", "grant a permission; SUBJECT is role:NAME, user:EMAIL-OR-ID or team:NAME-OR-ID"},
		{"revoke", "SUBJECT PERMISSION", "revoke a permission"},
		{"roles", "[create NAME | delete NAME]", "list the roles, or create or delete one"},
		{"assign", "SUBJECT ROLE", "give a role to a user, team or role (-remove takes it)"},
		{"import", "FILE|-", "replace the policy with a casbin CSV file, all or nothing"},
		{"export", "", "write the policy as casbin CSV"},
		{"check", "USER PERMISSION", "can USER do PERMISSION? (exit status 3 for no)"},
		{"versions", "", "list the recorded versions of the policy"},
		{"restore", "VERSION-ID", "make a recorded version the policy again"},
	}},
	{name: "backup", summary: "write a consistent archive of a node, running or not (-o FILE, -media for the blobs)", setup: backupCmd},
	{name: "restore", args: "FILE", summary: "make a data directory the node a backup archive holds, on this or a new machine", setup: restoreCmd},
	{name: "storage", summary: "move a node's stores to another backend", setup: storageCmd, subs: []subcommand{
		{"migrate", "", "copy a stopped node's site history into PostgreSQL (-to postgres -dsn DSN), resumable, then compare both"},
	}},
	{name: "dev", summary: "development tools", setup: devCmd, subs: []subcommand{
		{"seed-history", "", "fill a data directory's store with generated session history"},
	}},
	{name: "version", summary: "print the version"},
	{name: "help", args: "[COMMAND]", summary: "print this help, or a command's"},
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// run runs siteline with args (without the program name) and returns its
// exit status: 0, 1 when the command failed, 2 for a command line that
// asks for nothing siteline does.
func run(args []string, stdout, stderr io.Writer) int {
	name := "serve"
	switch {
	case len(args) > 0 && isHelp(args[0]):
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil && c.setup != nil {
				c.usage(stdout)
				return 0
			}
			fmt.Fprintf(stderr, "siteline help: unknown command %q\n\n", args[1])
			usage(stderr)
			return 2
		}
		usage(stdout)
		return 0
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		name, args = args[0], args[1:]
	}
	c := lookup(name)
	switch {
	case c == nil:
		fmt.Fprintf(stderr, "siteline: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	case name == "version":
		fmt.Fprintln(stdout, version())
		return 0
	}
	return c.run(args, stdout, stderr)
}

func (c *command) run(args []string, stdout, stderr io.Writer) int {
	var sub string
	if len(c.subs) > 0 {
		if len(args) == 0 {
			fmt.Fprintf(stderr, "siteline %s: want a subcommand\n\n", c.name)
			c.usage(stderr)
			return 2
		}
		if isHelp(args[0]) {
			c.usage(stdout)
			return 0
		}
		sub, args = args[0], args[1:]
		if !c.hasSub(sub) {
			fmt.Fprintf(stderr, "siteline %s: unknown subcommand %q\n\n", c.name, sub)
			c.usage(stderr)
			return 2
		}
	}
	fs := flag.NewFlagSet("siteline "+strings.TrimSpace(c.name+" "+sub), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runCmd := c.setup(fs)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.usage(stdout)
		return 0
	}
	if err == nil {
		err = runCmd(sub, pos)
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue) || isFlagError(err):
		fmt.Fprintf(stderr, "%s: %v\nRun \"siteline %s -h\" for its usage.\n", fs.Name(), err, c.name)
		return 2
	}
	fmt.Fprintln(stderr, "siteline:", err)
	return 1
}

// flagError is a flag the command line got wrong (unknown, or with a bad
// value).
type flagError struct{ err error }

func (e flagError) Error() string { return e.err.Error() }

func isFlagError(err error) bool {
	var fe flagError
	return errors.As(err, &fe)
}

func (c *command) hasSub(name string) bool {
	for _, s := range c.subs {
		if s.name == name {
			return true
		}
	}
	return false
}

// usage prints the command's usage: its subcommands and every flag.
func (c *command) usage(w io.Writer) {
	line := "siteline " + c.name
	switch {
	case c.name == "serve":
		line = "siteline [serve]"
	case len(c.subs) > 0:
		line += " SUBCOMMAND [ARGUMENTS]"
	}
	fmt.Fprintf(w, "Usage: %s [flags]\n\n%s.\n", line, capitalise(c.summary))
	if len(c.subs) > 0 {
		fmt.Fprintf(w, "\nSubcommands:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range c.subs {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(s.name+" "+s.args), s.summary)
		}
		tw.Flush()
	}
	c.printFlags(w, "Flags")
}

func (c *command) printFlags(w io.Writer, heading string) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.setup(fs)
	fmt.Fprintf(w, "\n%s:\n", heading)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// usage prints siteline's usage: every command and subcommand, and the
// flags of serve, the default command.
func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: siteline [COMMAND] [SUBCOMMAND] [ARGUMENTS] [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
		for _, s := range c.subs {
			fmt.Fprintf(tw, "    %s\t  %s\n", strings.TrimSpace(s.name+" "+s.args), s.summary)
		}
	}
	tw.Flush()
	lookup("serve").printFlags(w, "With no command, siteline serves; its flags")
	fmt.Fprintf(w, "\nRun \"siteline COMMAND -h\" for a command's flags.\n")
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("user add EMAIL -roles x") and returns the latter.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, flagError{err}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// noArgs refuses positional arguments for commands that take none.
func noArgs(pos []string) error {
	if len(pos) > 0 {
		return usageError(fmt.Sprintf("unexpected arguments %q", pos))
	}
	return nil
}
