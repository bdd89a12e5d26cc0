// The language server connection: @codemirror/lsp-client over the
// workspace's LSP WebSocket (one JSON-RPC message per text frame), with a
// workspace that keeps one editor per open tab and opens go-to-definition
// targets (also /goroot and /gomodcache files) as tabs.
import { LSPClient, LSPPlugin, Workspace, languageServerExtensions, type Transport, type WorkspaceFile } from '@codemirror/lsp-client';
import type { EditorView } from '@codemirror/view';
import type { Text } from '@codemirror/state';
import { openSocket, wsPath } from './api';
import { byId, sanitizeHTML, say } from './dom';

/** Opens a document URI in a tab and returns its editor (or null). */
export type Opener = (uri: string) => Promise<EditorView | null>;

type WorkspaceFileUpdate = ReturnType<Workspace['syncFiles']>[number];

class OpenFile implements WorkspaceFile {
  constructor(public uri: string, public languageId: string, public version: number, public doc: Text, readonly view: EditorView) {}
  getView(): EditorView { return this.view; }
}

class TabWorkspace extends Workspace {
  files: OpenFile[] = [];
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
    this.client.didClose(uri);
  }

  displayFile(uri: string): Promise<EditorView | null> {
    return this.open(uri);
  }
}

function socketTransport(ws: WebSocket): Transport {
  const handlers = new Set<(m: string) => void>();
  ws.addEventListener('message', (e) => {
    if (typeof e.data === 'string') for (const h of handlers) h(e.data);
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
 * state of gopls in the bar.
 */
export function startLSP(wsID: string, open: Opener): LSPClient {
  const status = byId('lsp-status');
  const client = new LSPClient({
    rootUri: 'file:///workspace',
    workspace: (c) => new TabWorkspace(c, open),
    extensions: languageServerExtensions(),
    sanitizeHTML,
    timeout: 20000,
    // gopls's messages go to the bar instead of a panel over the editor.
    notificationHandlers: {
      'window/showMessage': (_c, params: { type: number; message: string }) => {
        say(`gopls: ${params.message}`);
        return true;
      },
    },
  });
  let delay = 500;
  const connect = async () => {
    status.textContent = 'gopls: starting';
    let ws: WebSocket;
    try {
      ws = await openSocket(`${wsPath(wsID)}/lsp`);
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
    client.connect(socketTransport(ws));
    client.initializing.then(() => {
      delay = 500;
      status.textContent = 'gopls: ready';
    }, () => { status.textContent = 'gopls: failed to start'; });
  };
  void connect();
  return client;
}
