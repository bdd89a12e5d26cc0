package lsp

import (
	"context"
	"path/filepath"

	"go.lsp.dev/protocol"

	"github.com/ideserver/ideserver/workspace"
)

// watch feeds gopls the workspace's file events while it has registered
// for workspace/didChangeWatchedFiles.
func (s *session) watch(ctx context.Context, w *workspace.Watchers) {
	defer s.wg.Done()
	sub, err := w.Subscribe(ctx, s.workspaceID, s.dir)
	if err != nil {
		s.log.Warn("watch workspace", "err", err)
		return
	}
	defer sub.Close()
	base := filepath.ToSlash(s.toolDir) // events name host files; gopls knows them by its process paths
	for {
		var batch []*protocol.FileEvent
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.Events():
			if !ok {
				return
			}
			batch = appendEvent(batch, base, ev)
		}
	more:
		for len(batch) < 256 {
			select {
			case ev, ok := <-sub.Events():
				if !ok {
					break more
				}
				batch = appendEvent(batch, base, ev)
			default:
				break more
			}
		}
		s.mu.Lock()
		on := s.watchOn
		s.mu.Unlock()
		if !on || len(batch) == 0 {
			continue
		}
		raw, err := encode(notification(protocol.MethodWorkspaceDidChangeWatchedFiles, protocol.DidChangeWatchedFilesParams{Changes: batch}))
		if err != nil {
			continue
		}
		s.srvMu.Lock()
		if g := s.current(); g != nil {
			_ = g.write(raw)
		}
		s.srvMu.Unlock()
	}
}

func appendEvent(batch []*protocol.FileEvent, base string, ev workspace.Event) []*protocol.FileEvent {
	var typ protocol.FileChangeType
	switch ev.Type {
	case workspace.EventCreated:
		typ = protocol.FileChangeTypeCreated
	case workspace.EventChanged:
		typ = protocol.FileChangeTypeChanged
	case workspace.EventDeleted:
		typ = protocol.FileChangeTypeDeleted
	default:
		return batch
	}
	rel, err := workspace.CleanPath(ev.Path)
	if err != nil || rel == "" {
		return batch
	}
	return append(batch, &protocol.FileEvent{URI: fileURI(base + "/" + rel), Type: typ})
}

// takeWatchRegistrations removes workspace/didChangeWatchedFiles
// registrations from params[key], which the proxy serves itself, and
// reports whether it removed any.
func (s *session) takeWatchRegistrations(params map[string]any, key string, register bool) bool {
	regs, _ := params[key].([]any)
	kept := regs[:0:0]
	took := false
	for _, r := range regs {
		rm, _ := r.(map[string]any)
		if m, _ := rm["method"].(string); m == protocol.MethodWorkspaceDidChangeWatchedFiles {
			took = true
			continue
		}
		kept = append(kept, r)
	}
	if took {
		params[key] = kept
		s.mu.Lock()
		s.watchOn = register
		s.mu.Unlock()
	}
	return took
}
