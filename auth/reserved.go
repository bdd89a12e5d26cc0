package auth

import "errors"

// ErrReservedID is returned (wrapped) when a credential or request names a
// reserved tenant id (see Reserved).
var ErrReservedID = errors.New("reserved id")

// Reserved reports whether id may not be used as a tenant id (SBX-04 in
// docs/security.md). The server's own identities (the playground, its build cache,
// the start-up self-test) are owner keys beginning with '@', which ValidID
// never accepts, so no tenant can spell them. Reserved covers what remains:
//
//   - "playground", "playground-cache" and "ideserver-selftest": the names
//     older versions gave those identities as pseudo-tenants. A data
//     directory may still hold their uid records and home directories,
//     which a tenant of that name would inherit.
//   - "ideserver" and "selftest": names an operator or a portal could
//     mistake for the server's own.
//
// The list is deliberately short: refusing a name that real deployments
// use as a tenant would lock that tenant out. User ids need no such list:
// a user's isolation key always includes its tenant ("<tenant>/<user>"),
// so no user id can collide with an internal identity.
func Reserved(id string) bool {
	switch id {
	case "playground", "playground-cache", "ideserver-selftest", "ideserver", "selftest":
		return true
	}
	return false
}
