package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// siteline runs the command line in process and returns its exit status
// and what it printed.
func siteline(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// flagNames are the flags a command declares.
func flagNames(c *command) []string {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.setup(fs)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, "-"+f.Name) })
	return names
}

func TestHelpListsEveryCommandAndSubcommand(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}} {
		code, out, errOut := siteline(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("siteline %v: exit %d, stderr %q", args, code, errOut)
		}
		if !strings.HasPrefix(out, "Usage: siteline") {
			t.Errorf("siteline %v printed no usage:\n%s", args, out)
		}
		for _, c := range commands {
			if !strings.Contains(out, "\n  "+c.name) {
				t.Errorf("siteline %v does not list %s", args, c.name)
			}
			for _, s := range c.subs {
				if !strings.Contains(out, "\n    "+s.name) {
					t.Errorf("siteline %v does not list %s %s", args, c.name, s.name)
				}
			}
		}
		for _, f := range flagNames(lookup("serve")) {
			if !strings.Contains(out, f) {
				t.Errorf("siteline %v does not show serve's flag %s", args, f)
			}
		}
	}
}

func TestCommandHelpListsSubcommandsAndFlags(t *testing.T) {
	for _, c := range commands {
		if c.setup == nil {
			continue
		}
		variants := [][]string{{c.name, "-h"}, {c.name, "--help"}, {"help", c.name}}
		for _, s := range c.subs {
			variants = append(variants, []string{c.name, s.name, "-h"})
		}
		for _, args := range variants {
			code, out, errOut := siteline(t, args...)
			if code != 0 || errOut != "" {
				t.Errorf("siteline %v: exit %d, stderr %q", args, code, errOut)
				continue
			}
			if !strings.HasPrefix(out, "Usage: siteline") {
				t.Errorf("siteline %v printed no usage:\n%s", args, out)
			}
			for _, s := range c.subs {
				if !strings.Contains(out, "  "+s.name) {
					t.Errorf("siteline %v does not list %s", args, s.name)
				}
			}
			for _, f := range flagNames(c) {
				if !strings.Contains(out, f) {
					t.Errorf("siteline %v does not show the flag %s", args, f)
				}
			}
		}
	}
}

func TestBadCommandLinesExitTwo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		say  string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"cluster", "frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"user"}, "want a subcommand"},
		{[]string{"user", "add"}, "want an e-mail address"},
		{[]string{"user", "list", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"policy", "grant", "role:x"}, "want SUBJECT PERMISSION"},
		{[]string{"cluster", "join"}, "needs -server and -token"},
		{[]string{"serve", "extra"}, "unexpected arguments"},
		{[]string{"backup"}, "backup needs -o FILE"},
		{[]string{"restore"}, "restore needs one archive FILE"},
	} {
		code, out, errOut := siteline(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.say) {
			t.Errorf("siteline %v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", tc.args, code, out, errOut, tc.say)
		}
	}
	// An unknown command is answered with the list of commands.
	if _, _, errOut := siteline(t, "frobnicate"); !strings.Contains(errOut, "cluster") || !strings.Contains(errOut, "policy") {
		t.Errorf("unknown command does not list the commands:\n%s", errOut)
	}
}

func TestCommandsOnANodeNeverCreateOne(t *testing.T) {
	empty := t.TempDir()
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, args := range [][]string{
		{"cluster", "token", "-data", empty},
		{"cluster", "status", "-data", missing},
		{"cluster", "init", "-data", empty},
		{"user", "list", "-data", empty},
		{"user", "add", "tom@acme.example", "-data", missing},
		{"policy", "export", "-data", empty},
		{"backup", "-o", filepath.Join(t.TempDir(), "node.backup"), "-data", empty},
	} {
		code, out, errOut := siteline(t, args...)
		dir, _ := filepath.Abs(args[len(args)-1])
		if code != 1 || out != "" || !strings.Contains(errOut, "no Siteline node found in "+dir) || !strings.Contains(errOut, "-data") {
			t.Errorf("siteline %v: exit %d, stdout %q, stderr %q; want exit 1 naming %s", args, code, out, errOut, dir)
		}
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("the empty directory now holds %v (%v)", entries, err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the missing directory was created: %v", err)
	}

	// Without -data, the default ./siteline-data is where it looked.
	t.Chdir(t.TempDir())
	t.Setenv("SITELINE_DATA_DIR", "")
	os.Unsetenv("SITELINE_DATA_DIR")
	code, _, errOut := siteline(t, "cluster", "token")
	wd, _ := os.Getwd()
	if code != 1 || !strings.Contains(errOut, filepath.Join(wd, "siteline-data")) || !strings.Contains(errOut, "pass -data DIR") {
		t.Errorf("cluster token without -data: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat("siteline-data"); !os.IsNotExist(err) {
		t.Errorf("cluster token created ./siteline-data: %v", err)
	}
}
