// Package internal holds helpers shared by several of ideserver's packages
// (in its subdirectories) and, in its tests, the repository-wide checks:
// the import rules of the package layering (docs/design.md, Layout), the
// environment rule, package docs, the threat catalogue of
// docs/security.md, and that nothing in the repository cites a file it
// does not hold. Only packages of this module may import it.
package internal
