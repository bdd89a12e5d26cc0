// Package internal holds helpers shared by several of ideserver's packages
// and, in its tests, the repository-wide checks: the import rules of
// DESIGN.md and STYLE.md, the environment rule, and package docs. Only
// packages of this module may import it.
package internal
