package playground

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Version is the answer of GET /version, field for field as the Go
// Playground writes it: the Go release programs are built with.
type Version struct {
	Version string // the toolchain's version, "go1.26.8"
	Release string // its release, "go1.26"
	Name    string // for people, "Go 1.26"
}

// errNoVersion is returned when the toolchain's version cannot be read.
var errNoVersion = errors.New("the Go version of the playground is not known")

// Version reads the version of the Go installation programs are built
// with from the first line of its VERSION file.
func (s *Service) Version() (Version, error) {
	f, err := os.Open(filepath.Join(s.opts.GOROOT, "VERSION"))
	if err != nil {
		return Version{}, errNoVersion
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return Version{}, errNoVersion
	}
	return parseVersion(strings.TrimSpace(sc.Text()))
}

// parseVersion splits a toolchain version ("go1.26.8", "go1.27rc1") into
// the Go Playground's fields.
func parseVersion(v string) (Version, error) {
	var major, minor int
	if _, err := fmt.Sscanf(v, "go%d.%d", &major, &minor); err != nil || major < 1 {
		return Version{}, errNoVersion
	}
	return Version{Version: v, Release: fmt.Sprintf("go%d.%d", major, minor), Name: fmt.Sprintf("Go %d.%d", major, minor)}, nil
}
