package workspace

import (
	"fmt"
	"strings"
)

// Owner keys name isolation principals: who a sandboxed process runs as
// (sandbox.Cmd.Owner). Each distinct key gets its own host uid, HOME, Go
// caches and cgroup. The tenant is the administrative boundary (tokens,
// portals, limits); the user is the isolation boundary.
//
//   - A user's key is "<tenant>/<user>" ([Owner.Key]). Tenant and user ids
//     are ids as auth.ValidID accepts them (lowercase letters, digits and
//     '-'), so neither holds a '/' and the key cannot be forged by choosing
//     ids.
//   - The server's internal identities are "@<name>" (the constants below).
//     No tenant or user id can spell '@', so no client can claim them. They
//     have no HOME, no Go caches and no workspace: [Manager.InternalBinds]
//     gives them GOROOT read-only and the tools, nothing else.
const (
	// PlaygroundOwner runs playground builds and programs.
	PlaygroundOwner = "@playground"
	// PlaygroundCacheOwner builds the playground's shared read-only build
	// cache.
	PlaygroundCacheOwner = "@playground-cache"
	// BuildCacheOwner builds the users' shared read-only build cache
	// (Manager.PrepareBuildCache).
	BuildCacheOwner = "@build-cache"
	// SelfTestOwner runs the start-up self-test's probe.
	SelfTestOwner = "@selftest"
)

// Key returns o's owner key, "<tenant>/<user>".
func (o Owner) Key() string { return o.Tenant + "/" + o.User }

// ParseOwnerKey splits a user's owner key into its Owner. Internal keys
// ("@<name>", see [IsInternalOwner]) and malformed keys are errors wrapping
// ErrInvalidPath; the message quotes the key, which holds no host path.
func ParseOwnerKey(key string) (Owner, error) {
	tenant, user, ok := strings.Cut(key, "/")
	if !ok || !validID(tenant) || !validID(user) {
		return Owner{}, fmt.Errorf("%w: owner key %q", ErrInvalidPath, key)
	}
	return Owner{Tenant: tenant, User: user}, nil
}

// IsInternalOwner reports whether key names one of the server's internal
// identities: '@' and then an id.
func IsInternalOwner(key string) bool {
	name, ok := strings.CutPrefix(key, "@")
	return ok && validID(name)
}

// validID reports whether s is an id as auth.ValidID accepts it: 1 to 63
// bytes of lowercase letters, digits and '-', not starting with '-'. It is
// repeated here because workspace does not import auth; ids of owner keys
// name directories, so the rule is also what keeps them safe as path
// elements.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0:
		default:
			return false
		}
	}
	return true
}
