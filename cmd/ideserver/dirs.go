package main

import (
	"fmt"
	"os"
)

// passPerm is the mode of the server's directories above what sandboxes
// are given: 0711 when tenants run as uids of their own (they pass
// through to what is bound for them but cannot list the directory), else
// 0700.
func passPerm(tenantUIDs bool) os.FileMode {
	if tenantUIDs {
		return 0o711
	}
	return 0o700
}

// ensureDir creates dir and its parents and sets dir's mode to perm,
// whatever the umask or an earlier version left; errors say what the
// directory is for.
func ensureDir(dir string, perm os.FileMode, what string) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create %s: %w", what, err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		return fmt.Errorf("create %s: %w", what, err)
	}
	return nil
}
