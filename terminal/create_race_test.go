package terminal_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ideserver/ideserver/terminal"
)

// TestListDuringCreate lists a workspace's terminals while others start:
// Create must publish the new terminal's process under the Manager's lock
// (go test -race flags it otherwise).
func TestListDuringCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = e.m.List(e.h)
			}
		}
	})
	for range 3 {
		if _, err := e.m.Create(context.Background(), e.h, terminal.CreateOptions{Command: []string{"sleep", "100"}}); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if n := len(e.m.List(e.h)); n != 3 {
		t.Errorf("List has %d terminals, want 3", n)
	}
}

// TestCloseDuringCreate closes the Manager while a Create is starting its
// process: the Create either fails with ErrClosed or its terminal is ended
// by Close; nothing is left running after both return.
func TestCloseDuringCreate(t *testing.T) {
	t.Parallel()
	for range 5 {
		entered := make(chan struct{})
		e := newEnv(t)
		terminal.SetBeforeStart(e.m, func() { close(entered) })
		errc := make(chan error, 1)
		go func() {
			_, err := e.m.Create(context.Background(), e.h, terminal.CreateOptions{Command: []string{"sleep", "100"}})
			errc <- err
		}()
		<-entered
		if err := e.m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil && !errors.Is(err, terminal.ErrClosed) {
			t.Logf("Create: %v", err) // a start refused by the closing runner is fine too
		}
		if n := e.m.Count(); n != 0 {
			t.Fatalf("%d terminals left after Close and Create returned", n)
		}
		if pids := markedPids(e.instance); len(pids) > 0 {
			t.Fatalf("processes survived Close: %v", pids)
		}
	}
}
