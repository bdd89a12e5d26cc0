// The language server connection: @codemirror/lsp-client over the
// workspace's LSP WebSocket (one JSON-RPC message per text frame), with a
// workspace that keeps one editor per open tab and opens go-to-definition
// targets (also /goroot and /gomodcache files) as tabs. It also keeps the
// diagnostics as gopls sent them (code actions send them back) and answers
// gopls's workspace/applyEdit and window/showDocument requests, which
// lsp-client does not handle.
import { LSPClient, LSPPlugin, Workspace, languageServerExtensions, type LSPClientExtension, type Transport, type WorkspaceFile } from '@codemirror/lsp-client';
import type { EditorView } from '@codemirror/view';
import type { Text } from '@codemirror/state';
import type * as lsp from 'vscode-languageserver-protocol';
import { openSocket, workspaceAPI } from './api';
import { byId, sanitizeHTML, say } from './dom';
import { applyWorkspaceEdit, errorText, offsetOf, type QuietOpener } from './editor-lsp';
import { workspaceRootURI } from './paths';

/** Opens a document URI in a tab and returns its editor (or null). */
export type Opener = (uri: string) => Promise<EditorView | null>;

type WorkspaceFileUpdate = ReturnType<Workspace['syncFiles']>[number];

class OpenFile implements WorkspaceFile {
  constructor(public uri: string, public languageId: string, public version: number, public doc: Text, readonly view: EditorView) {}
  getView(): EditorView { return this.view; }
}

class TabWorkspace extends Workspace {
  files: OpenFile[] = [];
  /** The latest diagnostics gopls published, by document URI. */
  readonly diagnostics = new Map<string, lsp.Diagnostic[]>();
  private versions = new Map<string, number>();

  constructor(client: LSPClient, private open: Opener) {
    super(client);
  }

  private nextVersion(uri: string): number {
    const v = (this.versions.get(uri) ?? -1) + 1;
    this.versions.set(uri, v);
    return v;
  }

  syncFiles(): readonly WorkspaceFileUpdate[] {
    const out: WorkspaceFileUpdate[] = [];
    for (const file of this.files) {
      const plugin = LSPPlugin.get(file.view);
      if (!plugin) continue;
      const changes = plugin.unsyncedChanges;
      if (!changes.empty) {
        out.push({ changes, file, prevDoc: file.doc });
        file.doc = file.view.state.doc;
        file.version = this.nextVersion(file.uri);
        plugin.clear();
      }
    }
    return out;
  }

  openFile(uri: string, languageId: string, view: EditorView): void {
    if (this.getFile(uri)) return;
    const file = new OpenFile(uri, languageId, this.nextVersion(uri), view.state.doc, view);
    this.files.push(file);
    this.client.didOpen(file);
  }

  closeFile(uri: string): void {
    if (!this.getFile(uri)) return;
    this.files = this.files.filter((f) => f.uri !== uri);
    this.diagnostics.delete(uri);
    this.client.didClose(uri);
  }

  displayFile(uri: string): Promise<EditorView | null> {
    return this.open(uri);
  }
}

/**
 * The diagnostics gopls last published for a document URI (with their
 * source, code and data, which the lint state drops), or none.
 */
export function publishedDiagnostics(client: LSPClient, uri: string): readonly lsp.Diagnostic[] {
  return client.workspace instanceof TabWorkspace ? client.workspace.diagnostics.get(uri) ?? [] : [];
}

/** Handles a request from the server; its result is the reply. */
type ServerRequestHandler = (params: unknown) => Promise<unknown>;

/** What the client supports beyond lsp-client's defaults: code actions (as literals, resolved lazily), applyEdit (creating files) and showDocument. */
const codeActionCapabilities: LSPClientExtension = {
  clientCapabilities: {
    textDocument: {
      codeAction: {
        codeActionLiteralSupport: {
          codeActionKind: { valueSet: ['', 'quickfix', 'refactor', 'refactor.extract', 'refactor.inline', 'refactor.rewrite', 'source', 'source.organizeImports', 'source.fixAll'] },
        },
        isPreferredSupport: true,
        dataSupport: true,
        resolveSupport: { properties: ['edit'] },
      },
    },
    workspace: { applyEdit: true, workspaceEdit: { documentChanges: true, resourceOperations: ['create'] } },
    window: { showDocument: { support: true } },
  },
};

function socketTransport(ws: WebSocket, requests: Record<string, ServerRequestHandler>): Transport {
  const handlers = new Set<(m: string) => void>();
  const answer = async (id: unknown, handle: ServerRequestHandler, params: unknown) => {
    let reply: object;
    try {
      reply = { result: await handle(params) };
    } catch (e) {
      reply = { error: { code: -32603, message: errorText(e) } };
    }
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ jsonrpc: '2.0', id, ...reply }));
  };
  ws.addEventListener('message', (e) => {
    if (typeof e.data !== 'string') return;
    // Requests from the server that lsp-client would refuse are answered here.
    if (Object.keys(requests).some((name) => e.data.includes(`"${name}"`))) {
      const m = JSON.parse(e.data) as { id?: unknown; method?: string; params?: unknown };
      const handle = m.id !== undefined && m.method ? requests[m.method] : undefined;
      if (handle) {
        void answer(m.id, handle, m.params);
        return;
      }
    }
    for (const h of handlers) h(e.data);
  });
  return {
    send: (m) => ws.send(m),
    subscribe: (h) => { handlers.add(h); },
    unsubscribe: (h) => { handlers.delete(h); },
  };
}

/**
 * Creates the LSP client of a workspace and keeps it connected: it
 * reconnects (with a new ticket) when the socket closes, and shows the
 * state of gopls in the bar. Edits gopls asks to apply (workspace/applyEdit,
 * after a command) land as unsaved changes; files without a tab are opened
 * with openQuietly. Documents gopls asks to show open with open.
 */
export function startLSP(workspaceID: string, open: Opener, openQuietly: QuietOpener): LSPClient {
  const status = byId('lsp-status');
  const client = new LSPClient({
    rootUri: workspaceRootURI,
    workspace: (c) => new TabWorkspace(c, open),
    extensions: [codeActionCapabilities, ...languageServerExtensions()],
    sanitizeHTML,
    timeout: 20000,
    notificationHandlers: {
      // gopls's messages go to the bar instead of a panel over the editor.
      'window/showMessage': (_c, params: { type: number; message: string }) => {
        say(`gopls: ${params.message}`);
        return true;
      },
      // Kept as sent, then shown by lsp-client's handler.
      'textDocument/publishDiagnostics': (c, params: lsp.PublishDiagnosticsParams) => {
        const file = c.workspace.getFile(params.uri);
        if (c.workspace instanceof TabWorkspace && file && (params.version == null || params.version === file.version)) {
          c.workspace.diagnostics.set(params.uri, params.diagnostics);
        }
        return false;
      },
    },
  });
  const requests: Record<string, ServerRequestHandler> = {
    'workspace/applyEdit': async (params) => {
      const { edit } = params as lsp.ApplyWorkspaceEditParams;
      const mapping = client.workspaceMapping();
      try {
        const { skipped } = await applyWorkspaceEdit(client, mapping, edit, openQuietly, 'codeaction');
        if (skipped) say(`${skipped} file operations (rename, delete) were not applied.`);
        return { applied: true } satisfies lsp.ApplyWorkspaceEditResult;
      } catch (e) {
        return { applied: false, failureReason: errorText(e) } satisfies lsp.ApplyWorkspaceEditResult;
      } finally {
        mapping.destroy();
      }
    },
    // After a command (such as gopls.add_test) gopls shows what it made;
    // the proxy lets through only workspace, /goroot and /gomodcache URIs.
    'window/showDocument': async (params) => {
      const { uri, external, selection } = params as lsp.ShowDocumentParams;
      const view = external ? null : await open(uri);
      if (!view) return { success: false } satisfies lsp.ShowDocumentResult;
      if (selection) {
        const doc = view.state.doc;
        view.dispatch({ selection: { anchor: offsetOf(doc, selection.start), head: offsetOf(doc, selection.end) }, scrollIntoView: true });
      }
      return { success: true } satisfies lsp.ShowDocumentResult;
    },
  };
  let delay = 500;
  const connect = async () => {
    status.textContent = 'gopls: starting';
    let ws: WebSocket;
    try {
      ws = await openSocket(`${workspaceAPI(workspaceID)}/lsp`);
    } catch {
      status.textContent = 'gopls: unavailable, retrying';
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
      return;
    }
    ws.addEventListener('close', () => {
      client.disconnect();
      status.textContent = 'gopls: restarting';
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    });
    client.connect(socketTransport(ws, requests));
    client.initializing.then(() => {
      delay = 500;
      status.textContent = 'gopls: ready';
    }, () => { status.textContent = 'gopls: failed to start'; });
  };
  void connect();
  return client;
}
