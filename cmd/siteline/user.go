package main

import (
	"bufio"
	"context"
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

func userCmd(fs *flag.FlagSet) runner {
	var c common
	c.register(fs)
	var r remote
	r.register(fs, remoteUsage)
	name := fs.String("name", "", "add: display name")
	roles := fs.String("roles", "regular", "add: comma-separated roles")
	password := fs.String("password", "", "add, passwd: the password (- reads it from standard input; default: generated and printed)")
	return func(sub string, pos []string) error {
		return user(c, r, sub, pos, *name, *roles, *password)
	}
}

func user(c common, r remote, sub string, positional []string, name, roles, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(fn func(*apiclient.Client) error) error { return c.operate(ctx, r, fn) }
	var email string
	if len(positional) > 0 {
		email = positional[0]
	}
	if len(positional) > 1 {
		return usageError(fmt.Sprintf("unexpected arguments %q", positional[1:]))
	}
	if sub != "list" && email == "" {
		return usageError("want an e-mail address")
	}
	if sub == "list" && email != "" {
		return usageError(fmt.Sprintf("unexpected argument %q", email))
	}

	switch sub {
	case "add":
		pw, generated := passwordOrGenerated(password)
		return run(func(cl *apiclient.Client) error {
			var u userRecord
			in := apiclient.UserInput{Email: email, Name: name, Password: pw, Roles: splitList(roles)}
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
		pw, generated := passwordOrGenerated(password)
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
	return usageError(fmt.Sprintf("unknown subcommand %q", sub))
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
