package lsp

import (
	"strings"

	"go.lsp.dev/protocol"
)

// msgReadOnlyEdit is what the user is told when an edit would change a file
// in a read-only root.
const msgReadOnlyEdit = "This change would edit files of the Go standard library (/goroot) or the module cache (/gomodcache), which are read-only; nothing was changed. Only files in /workspace can be edited."

// methodCodeActionResolve is codeAction/resolve (LSP 3.16), for which
// go.lsp.dev/protocol v0.12.0 has no constant.
const methodCodeActionResolve = "codeAction/resolve"

// readOnlyURI reports whether a client URI names a read-only root
// (file:///goroot, file:///gomodcache) or a file below one.
func readOnlyURI(u string) bool {
	for _, root := range []string{ClientGoRoot, ClientGoModCache} {
		p := "file://" + root
		if u == p || strings.HasPrefix(u, p+"/") {
			return true
		}
	}
	return false
}

// editsReadOnly reports whether edit, a WorkspaceEdit in the client's form
// (decoded JSON), changes, creates, renames or deletes anything in a
// read-only root: in changes (keyed by URI) or documentChanges (text
// document edits and file operations, uri, oldUri, newUri). It walks the
// decoded JSON rather than decoding into protocol.WorkspaceEdit, whose
// documentChanges (v0.12.0) cannot hold file operations.
func editsReadOnly(edit any) bool {
	return !allURIs(edit, "", func(u string) bool { return !readOnlyURI(u) })
}

// editResultMethods are the client requests whose result is a
// WorkspaceEdit (or null).
var editResultMethods = map[string]bool{
	protocol.MethodTextDocumentRename: true,
	protocol.MethodWillCreateFiles:    true,
	protocol.MethodWillRenameFiles:    true,
	protocol.MethodWillDeleteFiles:    true,
}

// documentEditMethods are the client requests whose result edits only the
// request's textDocument: refused at once for a document in a read-only
// root.
var documentEditMethods = map[string]bool{
	protocol.MethodTextDocumentFormatting:        true,
	protocol.MethodTextDocumentRangeFormatting:   true,
	protocol.MethodTextDocumentOnTypeFormatting:  true,
	protocol.MethodTextDocumentWillSaveWaitUntil: true,
	protocol.MethodTextDocumentRename:            true,
}

// carriesEdits reports whether a response to method may carry a
// WorkspaceEdit that refuseReadOnlyEdits must see (so it cannot take the
// raw fast path).
func carriesEdits(method string) bool {
	return editResultMethods[method] || method == protocol.MethodTextDocumentCodeAction || method == methodCodeActionResolve
}

// editsReadOnlyDocument reports whether a request (client form) of method
// would edit a document in a read-only root.
func editsReadOnlyDocument(method string, params any) bool {
	if !documentEditMethods[method] {
		return false
	}
	p, _ := params.(map[string]any)
	td, _ := p["textDocument"].(map[string]any)
	uri, _ := td["uri"].(string)
	return readOnlyURI(uri)
}

// refuseReadOnlyEdits checks msg, gopls's response (client form) to the
// client's request of method, for edits into read-only roots and reports
// whether it changed msg:
//   - a WorkspaceEdit result (rename, willRenameFiles, ...) that touches one
//     becomes an error response with msgReadOnlyEdit, which the client shows
//     where the rename failed;
//   - a code action (in a textDocument/codeAction list) whose edit touches
//     one loses its edit and is marked disabled with msgReadOnlyEdit as the
//     reason (LSP 3.16), so it is never offered as applicable;
//   - a resolved code action (codeAction/resolve) whose edit touches one
//     becomes an error response with msgReadOnlyEdit.
func refuseReadOnlyEdits(method string, msg *message) bool {
	res, ok := msg.obj["result"]
	if !ok || res == nil {
		return false
	}
	refuse := func() bool {
		msg.obj = errorResponse(msg.id, codeRequestFailed, msgReadOnlyEdit)
		return true
	}
	switch {
	case editResultMethods[method]:
		if editsReadOnly(res) {
			return refuse()
		}
	case method == methodCodeActionResolve:
		a, _ := res.(map[string]any)
		if editsReadOnly(a["edit"]) {
			return refuse()
		}
	case method == protocol.MethodTextDocumentCodeAction:
		list, _ := res.([]any)
		changed := false
		for _, item := range list {
			a, _ := item.(map[string]any)
			if e, ok := a["edit"]; ok && editsReadOnly(e) {
				delete(a, "edit")
				a["disabled"] = map[string]any{"reason": msgReadOnlyEdit}
				changed = true
			}
		}
		return changed
	}
	return false
}
