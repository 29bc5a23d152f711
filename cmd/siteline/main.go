// Command siteline runs a Siteline node and administers it.
//
//	siteline [serve]            run a node (the default)
//	siteline init               create the data directory and its first administrator
//	siteline user add|list|passwd|disable
//	siteline cluster init|token|join|leave|status|transfer
//	siteline policy list|grant|revoke|roles|assign|import|export|check|versions|restore
//	siteline dev seed-history
//	siteline version
package main

import (
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "init":
		err = initNode(args)
	case "user":
		err = user(args)
	case "cluster":
		err = cluster(args)
	case "policy":
		err = policyCmd(args)
	case "dev":
		err = dev(args)
	case "version":
		fmt.Println(version())
	case "help":
		usage()
	default:
		usage()
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "siteline:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `Usage: siteline [command] [flags]

Commands:
  serve     run a complete node (the default)
  init      create the data directory, its config file and first administrator
  user      add | list | passwd | disable users
  cluster   init | token | join | leave | status | transfer: the federation
  policy    list | grant | revoke | roles | assign | import | export | check | versions | restore
  dev       seed-history: fill a data directory with generated session history
  version   print the version

Run "siteline COMMAND -h" for a command's flags.
`)
}
