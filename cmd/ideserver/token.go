package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/store"
)

// runToken implements `ideserver token create|list|revoke` against the
// data directory. The server must not be running on it (bbolt allows one
// writer process); use the admin API then.
func runToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: ideserver token create|list|revoke [flags]", errUsage)
	}
	verb := args[0]
	fs := flag.NewFlagSet("ideserver token "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "state directory (default from configuration)")
	configFile := fs.String("config", "", "YAML configuration file")
	tenant := fs.String("tenant", "", "tenant id")
	user := fs.String("user", "", "user id (create)")
	name := fs.String("name", "", "a note to recognise the token by (create)")
	id := fs.String("id", "", "token id as shown by list (revoke)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	var cfgArgs []string
	if *data != "" {
		cfgArgs = append(cfgArgs, "--data", *data)
	}
	if *configFile != "" {
		cfgArgs = append(cfgArgs, "--config", *configFile)
	}
	cfg, err := LoadConfig(cfgArgs, getenv, stderr)
	if err != nil {
		return err
	}
	db, err := openStore(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w (stop it, or use the admin API POST /api/v1/admin/tenants/{tenant}/tokens)", err)
		}
		return err
	}
	defer db.Close()
	if *tenant == "" {
		return fmt.Errorf("%w: --tenant is required", errUsage)
	}
	switch verb {
	case "create":
		if *user == "" {
			return fmt.Errorf("%w: --user is required", errUsage)
		}
		t, secret, err := server.IssueToken(db, *tenant, *user, *name, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Created token %s for user %s of tenant %s. It is shown only now:\n", t.ID, t.UserID, t.TenantID)
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		list, err := db.ListTokens(*tenant)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tNAME\tCREATED")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.UserID, t.Name, t.CreatedAt.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	case "revoke":
		if *id == "" {
			return fmt.Errorf("%w: --id is required", errUsage)
		}
		if err := db.RevokeToken(*tenant, *id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no token %s in tenant %s", *id, *tenant)
			}
			return err
		}
		fmt.Fprintf(stdout, "Revoked token %s.\n", *id)
		return nil
	}
	return fmt.Errorf("%w: unknown token command %q (create, list, revoke)", errUsage, verb)
}
