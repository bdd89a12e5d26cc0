// Package internal holds helpers shared by several of ideserver's packages
// and, in its tests, the repository-wide checks: the import rules of
// the package layering (README, Layout), the environment rule, package docs
// and the threat catalogue of docs/security.md. Only
// packages of this module may import it.
package internal
