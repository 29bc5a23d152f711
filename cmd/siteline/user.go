package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"siteline/node"
	"siteline/node/apiclient"
)

type userRecord struct {
	apiclient.User
	Roles []string `json:"roles"`
}

func user(args []string) error {
	if len(args) == 0 {
		return errors.New("user: want add, list, passwd or disable")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ExitOnError)
	var c common
	c.register(fs)
	server := fs.String("server", "", "URL of a remote node (uses $SITELINE_TOKEN); default: the local data directory")
	insecure := fs.Bool("insecure", false, "with -server: accept a self-signed certificate")
	name := fs.String("name", "", "add: display name")
	roles := fs.String("roles", "regular", "add: comma-separated roles")
	password := fs.String("password", "", "add, passwd: the password (default: generated and printed)")
	positional := parseInterspersed(fs, args)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(fn func(*apiclient.Client) error) error { return c.operate(ctx, *server, *insecure, fn) }
	var email string
	if len(positional) > 0 {
		email = positional[0]
	}
	if len(positional) > 1 {
		return fmt.Errorf("user %s: unexpected arguments %q", sub, positional[1:])
	}
	if sub != "list" && email == "" {
		return fmt.Errorf("user %s: want an e-mail address", sub)
	}

	switch sub {
	case "add":
		pw, generated := passwordOrGenerated(*password)
		return run(func(cl *apiclient.Client) error {
			var u userRecord
			in := apiclient.UserInput{Email: email, Name: *name, Password: pw, Roles: splitList(*roles)}
			if err := cl.Do(ctx, "POST", "/users", in, &u); err != nil {
				return err
			}
			fmt.Printf("Created %s (%s) with roles %s.\n", u.Email, u.ID, strings.Join(u.Roles, ", "))
			if generated {
				fmt.Printf("Password: %s\n", pw)
			}
			return nil
		})
	case "list":
		return run(func(cl *apiclient.Client) error {
			var users []userRecord
			if err := cl.Do(ctx, "GET", "/users", nil, &users); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "EMAIL\tNAME\tROLES\tSTATUS\tID")
			for _, u := range users {
				status := "active"
				if !u.Active {
					status = "disabled"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.Name, strings.Join(u.Roles, ","), status, u.ID)
			}
			return w.Flush()
		})
	case "passwd":
		pw, generated := passwordOrGenerated(*password)
		return run(func(cl *apiclient.Client) error {
			u, err := findUser(ctx, cl, email)
			if err != nil {
				return err
			}
			if err := cl.Do(ctx, "PATCH", "/users/"+url.PathEscape(u.ID), apiclient.UserPatch{Password: &pw}, nil); err != nil {
				return err
			}
			fmt.Printf("Password of %s changed; their sessions are ended.\n", u.Email)
			if generated {
				fmt.Printf("Password: %s\n", pw)
			}
			return nil
		})
	case "disable":
		return run(func(cl *apiclient.Client) error {
			u, err := findUser(ctx, cl, email)
			if err != nil {
				return err
			}
			off := false
			if err := cl.Do(ctx, "PATCH", "/users/"+url.PathEscape(u.ID), apiclient.UserPatch{Active: &off}, nil); err != nil {
				return err
			}
			fmt.Printf("Disabled %s; their sessions are ended.\n", u.Email)
			return nil
		})
	}
	return fmt.Errorf("user: unknown subcommand %q (want add, list, passwd or disable)", sub)
}

func findUser(ctx context.Context, cl *apiclient.Client, email string) (userRecord, error) {
	var users []userRecord
	if err := cl.Do(ctx, "GET", "/users", nil, &users); err != nil {
		return userRecord{}, err
	}
	for _, u := range users {
		if strings.EqualFold(u.Email, email) {
			return u, nil
		}
	}
	return userRecord{}, fmt.Errorf("no user with e-mail %s", email)
}

// passwordOrGenerated returns the given password, or one read from
// standard input when it is "-", or a generated one.
func passwordOrGenerated(pw string) (string, bool) {
	switch pw {
	case "":
		return node.GeneratePassword(), true
	case "-":
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		return strings.TrimRight(line, "\r\n"), false
	}
	return pw, false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("user add EMAIL -roles x") and returns the latter.
func parseInterspersed(fs *flag.FlagSet, args []string) []string {
	var positional []string
	for {
		fs.Parse(args)
		if fs.NArg() == 0 {
			return positional
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
