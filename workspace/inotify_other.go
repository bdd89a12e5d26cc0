//go:build !linux

package workspace

import (
	"errors"
	"fmt"
	"os"
)

// inotify is Linux only; elsewhere Subscribe fails.
type inotify struct{}

func newInotify() (*inotify, error) {
	return nil, fmt.Errorf("watch: %w", errors.ErrUnsupported)
}

func (in *inotify) add(*os.File) (int, error)                     { return 0, errors.ErrUnsupported }
func (in *inotify) remove(int)                                    {}
func (in *inotify) close() error                                  { return nil }
func (in *inotify) read(out chan<- []rawEvent, _ <-chan struct{}) { close(out) }
