package lsp

import (
	"strings"

	"go.lsp.dev/protocol"
)

// sanitizeSettings removes settings that would run code or widen what gopls
// sees (LSP-06): every "env" map, and every buildFlags entry but -tags.
// gopls uses only the last segment of a dotted setting name
// ("build.env" sets env), so that is the name compared. It changes v in
// place.
func sanitizeSettings(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			name := k
			if i := strings.LastIndexByte(name, '.'); i >= 0 {
				name = name[i+1:]
			}
			switch strings.ToLower(name) {
			case "env":
				delete(x, k)
				continue
			case "buildflags":
				x[k] = safeBuildFlags(val)
				continue
			}
			sanitizeSettings(val)
		}
	case []any:
		for _, e := range x {
			sanitizeSettings(e)
		}
	}
}

func safeBuildFlags(v any) []any {
	out := []any{}
	flags, _ := v.([]any)
	for _, f := range flags {
		s, ok := f.(string)
		if ok && (strings.HasPrefix(s, "-tags=") || strings.HasPrefix(s, "--tags=")) && !strings.ContainsAny(s, " \t\n") {
			out = append(out, s)
		}
	}
	return out
}

// sanitizeInitialize fixes the client's initialize params to the one set of
// roots the client may have (LSP-01): rootUri and the only workspace folder are
// the workspace; rootPath and processId (a browser's pid means nothing
// here) are dropped; initializationOptions are sanitised; and gopls is told
// the client watches files, which the proxy then does for it. The server
// writes only these fields, with go.lsp.dev/protocol's types; every other
// field of params (capabilities the library does not know included) is
// kept as the client sent it.
func sanitizeInitialize(params map[string]any, toolWorkspaceURI protocol.DocumentURI) {
	params["rootUri"] = toolWorkspaceURI
	delete(params, "rootPath")
	params["processId"] = nil
	params["workspaceFolders"] = []protocol.WorkspaceFolder{{URI: string(toolWorkspaceURI), Name: "workspace"}}
	if o, ok := params["initializationOptions"]; ok {
		sanitizeSettings(o)
	}
	caps, _ := params["capabilities"].(map[string]any)
	if caps == nil {
		caps = map[string]any{}
		params["capabilities"] = caps
	}
	ws, _ := caps["workspace"].(map[string]any)
	if ws == nil {
		ws = map[string]any{}
		caps["workspace"] = ws
	}
	ws["didChangeWatchedFiles"] = watchedFilesCapabilities{
		DidChangeWatchedFilesWorkspaceClientCapabilities: protocol.DidChangeWatchedFilesWorkspaceClientCapabilities{DynamicRegistration: true},
		RelativePatternSupport:                           true,
	}
}

// watchedFilesCapabilities is the client capability for
// workspace/didChangeWatchedFiles with relativePatternSupport, which LSP
// 3.17 added after go.lsp.dev/protocol v0.12.0 (LSP 3.16).
type watchedFilesCapabilities struct {
	protocol.DidChangeWatchedFilesWorkspaceClientCapabilities
	RelativePatternSupport bool `json:"relativePatternSupport"`
}

// allowedCommands are the gopls commands
// (https://github.com/golang/tools/blob/gopls/v0.23.0/gopls/doc/commands.md) a
// client may run through workspace/executeCommand (LSP-05). Commands that
// build, test, generate or fetch modules run code; they are allowed only
// because gopls runs in the tenant's sandbox with the tenant's environment.
// Left out: commands that start gopls's own web server or profiler
// (assembly, doc, free_symbols, split_package, start_debugging,
// start_profile, stop_profile), telemetry, and gopls.lsp (which would run
// any LSP method unseen).
var allowedCommands = map[string]bool{
	"gopls.add_dependency":              true,
	"gopls.add_import":                  true,
	"gopls.add_test":                    true,
	"gopls.apply_fix":                   true,
	"gopls.change_signature":            true,
	"gopls.check_upgrades":              true,
	"gopls.diagnose_files":              true,
	"gopls.edit_go_directive":           true,
	"gopls.extract_to_new_file":         true,
	"gopls.fetch_vulncheck_result":      true,
	"gopls.gc_details":                  true,
	"gopls.generate":                    true,
	"gopls.go_get_package":              true,
	"gopls.list_imports":                true,
	"gopls.list_known_packages":         true,
	"gopls.modify_tags":                 true,
	"gopls.modules":                     true,
	"gopls.package_symbols":             true,
	"gopls.packages":                    true,
	"gopls.regenerate_cgo":              true,
	"gopls.remove_dependency":           true,
	"gopls.reset_go_mod_diagnostics":    true,
	"gopls.run_go_work_command":         true,
	"gopls.run_govulncheck":             true,
	"gopls.run_tests":                   true,
	"gopls.scan_imports":                true,
	"gopls.test":                        true,
	"gopls.tidy":                        true,
	"gopls.toggle_compiler_opt_details": true,
	"gopls.update_go_sum":               true,
	"gopls.upgrade_dependency":          true,
	"gopls.vendor":                      true,
	"gopls.views":                       true,
	"gopls.vulncheck":                   true,
	"gopls.workspace_stats":             true,
}

// commandAllowed reports whether a client may run the gopls command.
func commandAllowed(cmd string) bool { return allowedCommands[cmd] }
