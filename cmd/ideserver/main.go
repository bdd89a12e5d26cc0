// Command ideserver serves browser IDE workspaces for Go over HTTP and
// WebSocket. It is the only place of the server that reads flags,
// environment variables and the configuration file (cmd/ideload, the load
// tool, is a separate client), and it wires the packages together.
//
// Usage:
//
//	ideserver [flags]                 serve (see --help)
//	ideserver token create --tenant T --user U [--name N] [--data DIR]
//	ideserver token list   --tenant T [--data DIR]
//	ideserver token revoke --tenant T --id ID [--data DIR]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var err error
	if len(args) > 0 && args[0] == "token" {
		err = runToken(args[1:], getenv, stdout, stderr)
	} else {
		if len(args) > 0 && args[0] == "serve" {
			args = args[1:]
		}
		err = runServe(args, getenv, stdout, stderr)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "ideserver:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "ideserver:", err)
		return 1
	}
}

var errUsage = errors.New("usage")
