package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"siteline/node/apiclient"
	"strings"
	"text/tabwriter"
	"time"
)

// policyCmd runs `siteline policy ...` through the node's API, as the user
// commands do: the admin socket of the local node (or its data directory),
// or -server with $SITELINE_TOKEN.
func policyCmd(fs *flag.FlagSet) runner {
	var c common
	c.register(fs)
	var r remote
	r.register(fs, remoteUsage)
	o := policyOpts{
		note:        fs.String("note", "", "grant, revoke, import, restore: why (kept with the policy version)"),
		role:        fs.String("role", "", "list: only the lines of this role"),
		inherits:    fs.String("inherits", "", "roles create: comma-separated roles it inherits"),
		description: fs.String("description", "", "roles create: what the role is for"),
		remove:      fs.Bool("remove", false, "assign: take the role instead"),
		out:         fs.String("o", "", "export: write to this file instead of standard output"),
		explain:     fs.Bool("explain", false, "check: say which rule decided"),
	}
	return func(sub string, pos []string) error { return policy(c, r, o, sub, pos) }
}

// policyOpts are the policy command's own flags.
type policyOpts struct {
	note, role, inherits, description, out *string
	remove, explain                        *bool
}

func policy(c common, r remote, o policyOpts, sub string, pos []string) error {
	note, role, inherits, description, remove, out, explain := o.note, o.role, o.inherits, o.description, o.remove, o.out, o.explain
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(fn func(*apiclient.Client) error) error { return c.operate(ctx, r, fn) }
	want := func(n int, what string) error {
		if len(pos) != n {
			return usageError(fmt.Sprintf("want %s, got %d arguments", what, len(pos)))
		}
		return nil
	}
	printResult := func(res apiclient.PolicyResult) {
		for _, w := range res.Warnings {
			fmt.Fprintln(os.Stderr, "warning:", w)
		}
		if !res.Changed {
			fmt.Println("No change: the policy already says so.")
			return
		}
		fmt.Printf("Policy changed: %d lines added, %d removed; version %s.\n", res.Added, res.Removed, res.Version.ID)
	}

	switch sub {
	case "list":
		if err := want(0, "no arguments"); err != nil {
			return err
		}
		return run(func(cl *apiclient.Client) error {
			var rules []apiclient.PolicyRule
			if err := cl.Do(ctx, "GET", "/policy", nil, &rules); err != nil {
				return err
			}
			for _, r := range rules {
				if *role != "" && !strings.Contains(","+strings.Join(r.V, ",")+",", ",role:"+*role+",") {
					continue
				}
				fmt.Println(r.PType + ", " + strings.Join(r.V, ", "))
			}
			return nil
		})
	case "grant", "revoke":
		if err := want(2, "SUBJECT PERMISSION"); err != nil {
			return err
		}
		return run(func(cl *apiclient.Client) error {
			var res apiclient.PolicyResult
			if err := cl.Do(ctx, "POST", "/policy/"+sub, apiclient.GrantInput{Subject: pos[0], Permission: pos[1], Note: *note}, &res); err != nil {
				return err
			}
			printResult(res)
			return nil
		})
	case "roles":
		return policyRoles(ctx, run, pos, *inherits, *description, printResult)
	case "assign":
		if err := want(2, "SUBJECT ROLE"); err != nil {
			return err
		}
		path := "/policy/assign"
		if *remove {
			path = "/policy/unassign"
		}
		return run(func(cl *apiclient.Client) error {
			var res apiclient.PolicyResult
			if err := cl.Do(ctx, "POST", path, apiclient.AssignInput{Subject: pos[0], Role: pos[1]}, &res); err != nil {
				return err
			}
			printResult(res)
			return nil
		})
	case "import":
		if err := want(1, "a file name (or - for standard input)"); err != nil {
			return err
		}
		var data []byte
		var err error
		if pos[0] == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(pos[0])
		}
		if err != nil {
			return fmt.Errorf("policy import: %w", err)
		}
		return run(func(cl *apiclient.Client) error {
			var res apiclient.PolicyResult
			if err := cl.Do(ctx, "POST", "/policy/import", apiclient.ImportInput{CSV: string(data), Note: *note}, &res); err != nil {
				return err
			}
			printResult(res)
			return nil
		})
	case "export":
		if err := want(0, "no arguments"); err != nil {
			return err
		}
		return run(func(cl *apiclient.Client) error {
			var data []byte
			if err := cl.Do(ctx, "GET", "/policy/export", nil, &data); err != nil {
				return err
			}
			if *out == "" {
				_, err := os.Stdout.Write(data)
				return err
			}
			return os.WriteFile(*out, data, 0o644)
		})
	case "check":
		if len(pos) == 1 {
			u, p, err := apiclient.ParseCheckQuery(pos[0])
			if err != nil {
				return err
			}
			pos = []string{u, p}
		}
		if err := want(2, "USER PERMISSION"); err != nil {
			return err
		}
		var res apiclient.CheckResult
		err := run(func(cl *apiclient.Client) error {
			q := url.Values{"user": {pos[0]}, "permission": {pos[1]}}
			return cl.Do(ctx, "GET", "/policy/check?"+q.Encode(), nil, &res)
		})
		if err != nil {
			return err
		}
		for _, w := range res.Warnings {
			fmt.Fprintln(os.Stderr, "warning:", w)
		}
		if *explain {
			fmt.Println(res.Explanation)
			if len(res.Rule) > 0 {
				fmt.Println("rule: p, " + strings.Join(res.Rule, ", "))
			}
			fmt.Println("roles:", strings.Join(res.Roles, ", "))
		} else if res.Allowed {
			fmt.Println("yes")
		} else {
			fmt.Println("no")
		}
		if !res.Allowed {
			os.Exit(3) // "no" is an answer, not a failure, but scripts want to tell them apart
		}
		return nil
	case "versions":
		return run(func(cl *apiclient.Client) error {
			var vs []apiclient.PolicyVersion
			if err := cl.Do(ctx, "GET", "/policy/versions", nil, &vs); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tWHEN\tBY\tLINES\tNOTE")
			for _, v := range vs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", v.ID, v.At.Local().Format(time.DateTime), v.ActorID, v.Lines, v.Note)
			}
			return w.Flush()
		})
	case "restore":
		if err := want(1, "a version id"); err != nil {
			return err
		}
		return run(func(cl *apiclient.Client) error {
			var res apiclient.PolicyResult
			in := map[string]string{"note": *note}
			if err := cl.Do(ctx, "POST", "/policy/versions/"+url.PathEscape(pos[0])+"/restore", in, &res); err != nil {
				return err
			}
			printResult(res)
			return nil
		})
	}
	return usageError(fmt.Sprintf("unknown subcommand %q", sub))
}

func policyRoles(ctx context.Context, run func(func(*apiclient.Client) error) error, pos []string, inherits, description string, printResult func(apiclient.PolicyResult)) error {
	if len(pos) == 0 {
		return run(func(cl *apiclient.Client) error {
			var roles []apiclient.RoleInfo
			if err := cl.Do(ctx, "GET", "/policy/roles", nil, &roles); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ROLE\tINHERITS\tUSERS\tTEAMS\tGRANTS\tDESCRIPTION")
			for _, r := range roles {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\n", r.Name, strings.Join(r.Inherits, ","), len(r.Users), len(r.Teams), len(r.Grants), r.Description)
			}
			return w.Flush()
		})
	}
	if len(pos) != 2 || (pos[0] != "create" && pos[0] != "delete") {
		return usageError("policy roles: want no arguments, create NAME or delete NAME")
	}
	return run(func(cl *apiclient.Client) error {
		var res apiclient.PolicyResult
		var err error
		if pos[0] == "create" {
			err = cl.Do(ctx, "POST", "/policy/roles", apiclient.RoleInput{Name: pos[1], Description: description, Inherits: splitList(inherits)}, &res)
		} else {
			err = cl.Do(ctx, "DELETE", "/policy/roles/"+url.PathEscape(pos[1]), nil, &res)
		}
		if err != nil {
			return err
		}
		printResult(res)
		return nil
	})
}
