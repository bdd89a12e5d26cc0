// Package web holds the browser IDE: TypeScript sources in src/, built by
// esbuild (npm run build) into dist/, which is committed and embedded here so
// that `go run ./cmd/ideserver` needs no npm. The server package imports it to
// serve dist/index.html at / and dist/assets/ under /assets/.
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Dist returns the built app: index.html at its root and the scripts and
// styles under assets/. It never fails: dist is embedded at build time.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // unreachable: "dist" is a valid, embedded directory
	}
	return sub
}
