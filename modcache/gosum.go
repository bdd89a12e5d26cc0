package modcache

import (
	"bytes"

	"golang.org/x/mod/module"
)

// GoSumVersions returns the module versions whose zip data lists (the
// lines of a go.sum without the /go.mod suffix), in order, each once, at
// most limit of them. Lines it cannot read are skipped: go.sum is a
// tenant's file, and the go command is what checks it.
func GoSumVersions(data []byte, limit int) []module.Version {
	var out []module.Version
	seen := map[module.Version]bool{}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if len(out) >= limit {
			break
		}
		f := bytes.Fields(line)
		if len(f) != 3 || bytes.HasSuffix(f[1], []byte("/go.mod")) {
			continue
		}
		v := module.Version{Path: string(f[0]), Version: string(f[1])}
		if seen[v] || module.Check(v.Path, v.Version) != nil {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}
