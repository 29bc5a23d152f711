// Command siteline runs a Siteline node and administers it. Run
// "siteline help" for its commands (commands.go holds them).
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
