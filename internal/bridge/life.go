package bridge

import (
	"context"
	"sync"
)

// Wait waits until wg is done or ctx ends, and returns ctx's error in the
// second case. (The goroutine it starts ends with wg.)
func Wait(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return WaitClosed(ctx, done)
}

// WaitClosed waits until done is closed or ctx ends, and returns ctx's
// error in the second case.
func WaitClosed(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
