package dap

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	godap "github.com/google/go-dap"

	"github.com/ideserver/ideserver/internal/jsonfold"
)

// header is the part of a DAP message the proxy routes on.
type header struct {
	Seq       int             `json:"seq"`
	Type      string          `json:"type"`
	Command   string          `json:"command"`
	Event     string          `json:"event"`
	Arguments json.RawMessage `json:"arguments"`
}

// Commands forwarded after path rewriting. Anything else is refused:
// attach, restart (it carries new launch arguments), and commands this
// server does not know.
var passCommands = map[string]bool{
	"initialize": true, "configurationDone": true, "disconnect": true, "terminate": true,
	"setBreakpoints": true, "setFunctionBreakpoints": true, "setExceptionBreakpoints": true,
	"setInstructionBreakpoints": true, "setDataBreakpoints": true, "dataBreakpointInfo": true,
	"breakpointLocations": true, "continue": true, "next": true, "stepIn": true, "stepOut": true,
	"stepBack": true, "reverseContinue": true, "pause": true, "goto": true, "gotoTargets": true,
	"stepInTargets": true, "stackTrace": true, "scopes": true, "variables": true,
	"setVariable": true, "setExpression": true, "source": true, "threads": true,
	"terminateThreads": true, "loadedSources": true, "modules": true, "exceptionInfo": true,
	"completions": true, "disassemble": true, "readMemory": true, "writeMemory": true,
	"cancel": true, "evaluate": true, "launch": true,
}

// fromClient decides what to do with one client message: forward it
// (rewritten) to dlv, or answer it.
func (p *proxy) fromClient(msg []byte) (fwd, reply []byte) {
	var h header
	if err := json.Unmarshal(msg, &h); err != nil {
		p.m.metrics.refused.WithLabelValues(reasonMalformed).Inc()
		return nil, p.outputEvent("ideserver: ignored a message that is not a valid DAP JSON object.\n")
	}
	v, err := decodeJSON(msg)
	if err != nil || jsonfold.Collides(v, nil) {
		// encoding/json matches keys case-insensitively (and folds 'ſ'
		// to 's', 'K' to 'k'), and the last of two such keys wins: the
		// proxy reads the message in the client's key order, dlv the
		// re-encoded one in sorted order. Keys that differ only in case
		// could make the two disagree on the command or its arguments.
		p.m.metrics.refused.WithLabelValues(reasonMalformed).Inc()
		return nil, errorResponse(h.Seq, h.Command, "The request has keys that differ only in case; send each key once.")
	}
	if h.Type != "request" {
		// Responses answer reverse requests, which this proxy never
		// forwards; events do not flow this way.
		p.log.Debug("dap: dropped client message", "type", h.Type)
		return nil, nil
	}
	r := p.checkRequest(h)
	if r == nil {
		fwd, r = p.rewriteRequest(v, h)
	}
	if r != nil {
		p.m.metrics.refused.WithLabelValues(r.Reason).Inc()
		p.log.Debug("dap: refused request", "command", h.Command, "reason", r.Reason)
		return nil, errorResponse(h.Seq, h.Command, r.Message)
	}
	return fwd, nil
}

func (p *proxy) checkRequest(h header) *refusal {
	switch {
	case h.Command == "attach":
		return refuse(reasonCommand, "attach is not allowed: ideserver debugs programs it builds from your workspace; use launch.")
	case h.Command == "restart":
		return refuse(reasonCommand, "restart is not supported: disconnect and launch again.")
	case !passCommands[h.Command]:
		return refuse(reasonCommand, "The command %q is not supported by this server.", truncate(h.Command, 60))
	case h.Command == "launch" && p.launched.Load():
		return refuse(reasonState, "This session has already launched a program; open a new debug session.")
	case h.Command == "evaluate":
		var a struct {
			Expression string `json:"expression"`
		}
		_ = json.Unmarshal(h.Arguments, &a)
		f := strings.Fields(a.Expression)
		if len(f) >= 3 && f[0] == "dlv" && f[1] == "config" && strings.EqualFold(f[2], "substitutePath") {
			return refuse(reasonArgument, "dlv config substitutePath is not allowed: paths are mapped by the server.")
		}
	}
	return nil
}

// rewriteRequest maps the client paths of the request v (the decoded
// message, changed in place) to dlv's process paths; a launch is checked
// and completed first.
func (p *proxy) rewriteRequest(v any, h header) ([]byte, *refusal) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, refuse(reasonMalformed, "The request must be a JSON object.")
	}
	if h.Command == "launch" {
		args, mode, r := checkLaunch(h.Arguments, launchEnv{
			paths: p.paths, workspaceReal: p.workspaceReal, workspaceProc: p.workspaceProc,
			output:   p.dirProc + "/__debug_bin",
			terminal: p.m.opts.Terminals != nil && p.runInTerminal.Load(),
		})
		if r != nil {
			return nil, r
		}
		if args["outputMode"] == "local" { // console "integratedTerminal"
			if r := p.launchInTerminal(); r != nil {
				return nil, r
			}
		}
		obj["arguments"] = args
		if nd, _ := args["noDebug"].(bool); nd {
			mode = "nodebug"
		}
		p.launched.Store(true)
		p.m.metrics.launches.WithLabelValues(mode).Inc()
		return mustEncode(obj), nil
	}
	if a, ok := obj["arguments"]; ok {
		na, err := p.paths.rewriteToProcess(a, false)
		if err != nil {
			return nil, refuse(reasonPath, "A source path in this request is outside the workspace, /goroot and /gomodcache.")
		}
		obj["arguments"] = na
	}
	out := mustEncode(obj)
	if h.Command == "initialize" {
		var a struct {
			RunInTerminal bool `json:"supportsRunInTerminalRequest"`
		}
		_ = json.Unmarshal(h.Arguments, &a)
		p.runInTerminal.Store(a.RunInTerminal)
		p.initReq = out
	}
	return out, nil
}

// fromDlv rewrites one dlv message for the client, or answers a reverse
// request itself.
func (p *proxy) fromDlv(msg []byte) (fwd, reply []byte) {
	var h header
	if err := json.Unmarshal(msg, &h); err != nil {
		p.log.Warn("dap: dropped malformed message from dlv")
		return nil, nil
	}
	if h.Type == "request" {
		// runInTerminal (dlv v1.27.2 never sends it: console
		// "integratedTerminal" is done by running dlv itself in a
		// terminal, see moveToTerminal) and startDebugging (a child
		// session would escape the proxy).
		return nil, errorResponse(h.Seq, h.Command, "Not supported by ideserver.")
	}
	if h.Type == "event" && h.Event == "terminated" {
		p.terminated.Store(true)
	}
	if h.Type == "response" && h.Command == "initialize" {
		msg = withoutRestart(msg)
	}
	out, err := p.paths.messageToClient(msg)
	if err != nil {
		p.log.Warn("dap: dropped message from dlv", "err", err)
		return nil, nil
	}
	return out, nil
}

func (p *proxy) outputEvent(text string) []byte {
	return mustEncode(&godap.OutputEvent{
		Event: godap.Event{ProtocolMessage: godap.ProtocolMessage{Type: "event"}, Event: "output"},
		Body:  godap.OutputEventBody{Category: "important", Output: text},
	})
}

// errorResponse is a failed response to request seq.
func errorResponse(seq int, command, message string) []byte {
	return mustEncode(&godap.ErrorResponse{
		Response: godap.Response{
			ProtocolMessage: godap.ProtocolMessage{Type: "response"},
			RequestSeq:      seq, Success: false, Command: command, Message: message,
		},
		Body: godap.ErrorResponseBody{Error: &godap.ErrorMessage{Id: 9000, Format: message, ShowUser: true}},
	})
}

func mustEncode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("dap: encode: %v", err)) // only our own types and decoded JSON reach here
	}
	return b
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if s, ok := strings.CutPrefix(kv, key+"="); ok {
			v = s
		}
	}
	return v
}

// logWriter logs dlv's own output at debug level, bounded.
type logWriter struct {
	log    *slog.Logger
	stream string
	n      atomic.Int64
}

func (w *logWriter) Write(b []byte) (int, error) {
	if w.n.Add(int64(len(b))) <= 64<<10 {
		w.log.Debug("dap: dlv output", "stream", w.stream, "text", truncate(strings.TrimSpace(string(b)), 1024))
	}
	return len(b), nil
}

var _ io.Writer = (*logWriter)(nil)

// withoutRestart clears supportsRestartRequest in an initialize response:
// the proxy refuses restart (it carries new launch arguments).
func withoutRestart(msg []byte) []byte {
	var m map[string]any
	if json.Unmarshal(msg, &m) != nil {
		return msg
	}
	if body, ok := m["body"].(map[string]any); ok {
		body["supportsRestartRequest"] = false
		return mustEncode(m)
	}
	return msg
}
