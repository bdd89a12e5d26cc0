// The workbench of one workspace: the file tree (tree.ts) and tabs of
// CodeMirror editors wired to gopls, both kept live by the watch socket,
// save with If-Match, the terminal panel, the debug panel, and the UI state
// (tabs, tree, side bar, debug panel, terminals) kept on the server.
import { basicSetup } from 'codemirror';
import { EditorState, Text } from '@codemirror/state';
import { EditorView, keymap, type Command } from '@codemirror/view';
import { go } from '@codemirror/lang-go';
import { indentUnit } from '@codemirror/language';
import type { LSPClient } from '@codemirror/lsp-client';
import { api, ApiError, call, fileAPI, openSocket, workspaceAPI, type Workspace } from './api';
import { byId, el, say } from './dom';
import { post, startEmbed } from './embed';
import { startLSP } from './lsp';
import { formatBeforeSave, goEditing, offsetOf } from './editor-lsp';
import { codeActions, organizeImports } from './code-actions';
import { installKeysHelp } from './editor-help';
import { baseName, isReadOnly, parseURI, workspacePath, workspaceURI } from './paths';
import { installQuickOpen } from './quickopen';
import { installSearch, revealAt } from './search';
import { DebugPanel } from './debug';
import { SideBar, type SideMode } from './side';
import { TermPanel, type TermLayout } from './terminal';
import { FileTree } from './tree';

/** The UI state kept in the workspace's state endpoint. */
interface SavedState {
  open?: string[];
  active?: string | null;
  expanded?: string[];
  /** What the side bar shows. */
  side?: SideMode;
  /** Whether the debug panel is shown. */
  debug?: boolean;
  terminals?: TermLayout;
}

class Tab {
  readonly box = el('div', 'editor');
  readonly tab = el('div', 'tab');
  view!: EditorView;
  saved: Text = Text.empty;
  etag = '';

  constructor(readonly uri: string, readonly label: string, readonly readOnly: boolean) {
    this.box.dataset.uri = uri;
    this.tab.dataset.uri = uri;
    this.tab.title = label;
  }

  get dirty(): boolean { return !this.view.state.doc.eq(this.saved); }
}

/** Opens the workbench of a workspace in the page. */
export async function openWorkbench(workspaceID: string): Promise<void> {
  const w = await call<Workspace>('GET', workspaceAPI(workspaceID));
  document.title = `${w.name} — ideserver`;
  byId('ws-title').textContent = w.name;
  byId('status').hidden = true;
  byId('wb').hidden = false;
  const wb = new Workbench(workspaceID);
  byId('share').addEventListener('click', () => void shareWorkspace(workspaceID));
  await wb.start();
  startEmbed('workbench', {
    open: async (path) => {
      if (!(await wb.open(workspaceURI(path)))) throw new Error(`cannot open ${path}`);
    },
    run: () => wb.run(),
  }, (origin) => say(`Ignored a message from ${origin}.`));
}

/** Creates a read-only share (access "view") of the workspace and shows and copies its URL. */
async function shareWorkspace(workspaceID: string): Promise<void> {
  try {
    const sh = await call<{ url: string; skipped?: { path: string }[] }>('POST', `${workspaceAPI(workspaceID)}/shares`, { access: 'view' });
    const input = byId<HTMLInputElement>('share-url');
    input.value = sh.url;
    input.hidden = false;
    input.select();
    const skipped = sh.skipped?.length ? ` (${sh.skipped.length} files left out)` : '';
    await navigator.clipboard?.writeText(sh.url).then(() => say(`Share link copied${skipped}.`), () => say(`Share link created${skipped}.`));
  } catch (e) {
    say(`Cannot share: ${e instanceof Error ? e.message : String(e)}`);
  }
}

class Workbench {
  private tabs: Tab[] = [];
  private active: Tab | null = null;
  private tree: FileTree;
  private client: LSPClient;
  private terms: TermPanel;
  private debug: DebugPanel;
  private side = new SideBar();
  private restoring = true;
  private saveTimer = 0;
  private opening = new Map<string, Promise<Tab | null>>();

  constructor(readonly workspaceID: string) {
    this.client = startLSP(workspaceID, async (uri) => (await this.open(uri))?.view ?? null, this.openQuietly);
    this.terms = new TermPanel(workspaceID);
    this.tree = new FileTree(workspaceID, {
      open: (path) => this.open(workspaceURI(path)),
      persist: () => this.persist(),
      renamed: (from, to) => this.moveTabs(from, to),
      deleted: (path) => this.closeTabs(path),
    });
    this.debug = new DebugPanel(workspaceID, {
      open: async (u) => (await this.open(u))?.view ?? null,
      active: () => (this.active ? { uri: this.active.uri, view: this.active.view } : null),
      saveAll: async () => { for (const t of this.tabs) if (t.dirty && !t.readOnly) await this.save(t); },
    });
    installQuickOpen((d) => this.tree.list(d), (p) => this.act(() => this.open(workspaceURI(p))));
    installSearch(workspaceID, (p, line, col) => this.act(async () => { const t = await this.open(workspaceURI(p)); if (t) revealAt(t.view, line, col); }), this.side);
    byId('refs-close').addEventListener('click', () => this.side.set('tree'));
    byId('refs-pane').addEventListener('keydown', (e) => { if (e.key === 'Escape') this.side.set('tree'); });
    this.side.onChange = () => this.persist();
    this.terms.onChange = () => this.persist();
    this.debug.onToggle = () => this.persist();
    installKeysHelp();
    window.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === 's') {
        e.preventDefault();
        if (this.active) void this.act(() => this.save(this.active!));
      }
    });
    window.addEventListener('beforeunload', (e) => {
      if (this.tabs.some((t) => t.dirty)) e.preventDefault();
    });
  }

  /** Opens the tab of a document URI without showing it (edits to files without a tab land there), creating a missing workspace file first if asked. */
  private readonly openQuietly = async (uri: string, create = false) => {
    if (create && !this.tabs.some((t) => t.uri === uri)) await this.createIfMissing(uri);
    return (await this.open(uri, false))?.view ?? null;
  };

  /** Creates an empty workspace file at a file:///workspace URI unless it exists; other URIs fail. */
  private async createIfMissing(uri: string): Promise<void> {
    const path = workspacePath(uri);
    if (path === null) throw new Error('Cannot create a file outside the workspace.');
    const url = fileAPI(this.workspaceID, path);
    try {
      await api(url);
      return;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
    await api(url, { method: 'PUT', body: '' });
  }

  private async act(f: () => Promise<unknown>): Promise<void> {
    try {
      await f();
    } catch (e) {
      say(e instanceof Error ? e.message : String(e));
    }
  }

  async start(): Promise<void> {
    const state = ((await call<SavedState | null>('GET', `${workspaceAPI(this.workspaceID)}/state`)) ?? {}) as SavedState;
    this.tree.restore(state.expanded ?? []);
    if (state.debug === true) this.debug.setVisible(true); // hidden until used
    if (state.side === 'search') this.side.set(state.side); // reference results are not kept
    void this.watch();
    await this.tree.refresh();
    for (const uri of state.open ?? []) await this.open(uri, false).catch(() => null);
    const active = this.tabs.find((t) => t.uri === state.active) ?? this.tabs[0];
    if (active) this.show(active);
    this.restoring = false;
    await this.terms.restore(state.terminals).catch((e) => say(`Terminals: ${e.message}`));
  }

  /** Runs `go run .` (the saved files) in a new terminal, posting its output to an embedding portal. */
  async run(): Promise<void> {
    if (this.tabs.some((t) => t.dirty)) say('Running the saved files; unsaved changes are not included.');
    await this.terms.create(['go', 'run', '.'], (kind, body) => post({ type: 'output', kind, body }));
  }

  // --- UI state

  private persist(): void {
    if (this.restoring) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => {
      const state: SavedState = {
        open: this.tabs.map((t) => t.uri),
        active: this.active?.uri ?? null,
        expanded: this.tree.expandedDirs(),
        side: this.side.mode,
        debug: this.debug.visible,
        terminals: this.terms.layout(),
      };
      call('PUT', `${workspaceAPI(this.workspaceID)}/state`, state).catch(() => undefined);
    }, 300);
  }

  // --- tabs of the tree's files

  /** Reopens the clean tabs of a renamed file, or of the files under a renamed directory, under their new names. */
  private async moveTabs(from: string, to: string): Promise<void> {
    for (const t of [...this.tabs]) {
      const p = workspacePath(t.uri);
      if (p !== null && (p === from || p.startsWith(`${from}/`)) && !t.dirty) {
        const wasActive = t === this.active;
        this.close(t);
        const moved = await this.open(workspaceURI(to + p.slice(from.length)), wasActive);
        if (moved && wasActive) this.show(moved);
      }
    }
  }

  /** Closes the tabs of a deleted file, or of the files under a deleted directory. */
  private closeTabs(path: string): void {
    for (const t of [...this.tabs]) {
      const p = workspacePath(t.uri);
      if (p !== null && (p === path || p.startsWith(`${path}/`))) this.close(t);
    }
  }

  // --- live updates

  private async watch(): Promise<void> {
    let delay = 500;
    let timer = 0;
    const changed = new Set<string>();
    const flush = () => {
      timer = 0;
      const paths = [...changed];
      changed.clear();
      void this.act(() => this.tree.refresh());
      for (const p of paths) {
        const t = this.tabs.find((x) => x.uri === workspaceURI(p));
        if (t) void this.act(() => this.reload(t));
      }
    };
    for (;;) {
      let ws: WebSocket;
      try {
        ws = await openSocket(`${workspaceAPI(this.workspaceID)}/watch`);
      } catch {
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10000);
        continue;
      }
      delay = 500;
      await this.act(() => this.tree.refresh()); // changes before the subscription
      ws.addEventListener('message', (e) => {
        const ev = JSON.parse(String(e.data)) as { type: string; path: string };
        if (ev.path) changed.add(ev.path);
        if (!timer) timer = window.setTimeout(flush, 100);
      });
      await new Promise((r) => ws.addEventListener('close', r, { once: true }));
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Reloads a clean tab whose file changed on disk. */
  private async reload(t: Tab): Promise<void> {
    const p = workspacePath(t.uri);
    if (p === null || t.dirty) return;
    let r: Response;
    try {
      r = await api(fileAPI(this.workspaceID, p), { headers: { 'If-None-Match': t.etag } });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return say(`${p} was deleted.`);
      throw e;
    }
    if (r.status === 304 || t.dirty) return;
    const text = await r.text();
    t.etag = r.headers.get('ETag') ?? '';
    t.saved = Text.of(text.split('\n'));
    t.view.dispatch({ changes: { from: 0, to: t.view.state.doc.length, insert: text } });
  }

  // --- tabs and editors

  /** Opens (or shows) the tab of a document URI. */
  open(uri: string, show = true): Promise<Tab | null> {
    const have = this.tabs.find((t) => t.uri === uri);
    if (have) {
      if (show) this.show(have);
      return Promise.resolve(have);
    }
    let p = this.opening.get(uri);
    if (!p) {
      p = this.load(uri).finally(() => this.opening.delete(uri));
      this.opening.set(uri, p);
    }
    return p.then((t) => {
      if (t && show) this.show(t);
      return t;
    });
  }

  /** Where the text of a document URI comes from, its tab's label and its name for lists; null for other URIs. */
  private source(uri: string): { url: string; label: string; name: string; readOnly: boolean } | null {
    const p = parseURI(uri);
    if (!p) return null;
    const url = fileAPI(this.workspaceID, p.path, p.root);
    if (!isReadOnly(p.root)) return { url, label: baseName(p.path), name: p.path, readOnly: false };
    return { url, label: `${baseName(p.path)} (${p.root}, read-only)`, name: `${p.root}: ${p.path}`, readOnly: true };
  }

  /** The text of a document URI: its tab's, else fetched; null when it cannot be read. */
  private async text(uri: string): Promise<string | null> {
    const t = this.tabs.find((x) => x.uri === uri);
    if (t) return t.view.state.doc.toString();
    const src = this.source(uri);
    if (!src) return null;
    try {
      return await (await api(src.url)).text();
    } catch {
      return null;
    }
  }

  /** Shift-F12: find references, loading its code on first use. */
  private readonly findReferences: Command = (view) => {
    void this.act(async () => {
      const { findReferences } = await import('./references');
      await findReferences(view, {
        side: this.side,
        text: (u) => this.text(u),
        label: (u) => this.source(u)?.name ?? u,
        reveal: async (u, pos) => {
          const t = await this.open(u);
          if (!t) return;
          const at = offsetOf(t.view.state.doc, pos);
          t.view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
          t.view.focus();
        },
      });
    });
    return true;
  };

  private async load(uri: string): Promise<Tab | null> {
    const src = this.source(uri);
    if (!src) return null;
    const { url, label, readOnly } = src;
    const r = await api(url);
    const text = await r.text();
    const t = new Tab(uri, label, readOnly);
    t.etag = r.headers.get('ETag') ?? '';
    const isGo = uri.endsWith('.go');
    t.view = new EditorView({
      parent: t.box,
      state: EditorState.create({
        doc: text,
        extensions: [
          keymap.of([{ key: 'Mod-s', preventDefault: true, stopPropagation: true, run: () => { void this.act(() => this.save(t)); return true; } }]),
          basicSetup,
          ...(isGo ? [go(), indentUnit.of('\t'), this.client.plugin(uri, 'go'), goEditing(this.openQuietly, this.findReferences), codeActions(this.openQuietly)] : []),
          ...(isGo ? [this.debug.editorExtension(uri)] : []),
          EditorState.readOnly.of(readOnly),
          EditorView.updateListener.of((u) => { if (u.docChanged) this.renderTabs(); }),
        ],
      }),
    });
    t.saved = t.view.state.doc;
    const name = el('span', 'name', label);
    const close = el('button', 'close', '×');
    close.title = 'Close';
    close.addEventListener('click', (e) => {
      e.stopPropagation();
      if (!t.dirty || confirm(`Discard the unsaved changes of ${label}?`)) this.close(t);
    });
    t.tab.append(name, close);
    t.tab.classList.toggle('ro', readOnly);
    t.tab.addEventListener('click', () => this.show(t));
    this.tabs.push(t);
    byId('tabs').append(t.tab);
    t.box.hidden = true;
    byId('editors').append(t.box);
    this.persist();
    return t;
  }

  show(t: Tab): void {
    this.active = t;
    for (const o of this.tabs) o.box.hidden = o !== t;
    this.renderTabs();
    byId('editors').querySelector('.empty')?.remove();
    t.view.requestMeasure();
    t.view.focus();
    this.persist();
  }

  private renderTabs(): void {
    for (const t of this.tabs) {
      t.tab.classList.toggle('active', t === this.active);
      t.tab.classList.toggle('dirty', t.dirty);
    }
  }

  private close(t: Tab): void {
    this.tabs = this.tabs.filter((o) => o !== t);
    t.view.destroy();
    t.box.remove();
    t.tab.remove();
    if (this.active === t) {
      this.active = null;
      const next = this.tabs.at(-1);
      if (next) this.show(next);
    }
    this.persist();
  }

  /** Saves a tab with If-Match; a conflicting change on disk asks before overwriting. */
  async save(t: Tab): Promise<void> {
    const path = workspacePath(t.uri);
    if (path === null || t.readOnly) return say('This file is read-only.');
    if (t.uri.endsWith('.go')) {
      await organizeImports(t.view);
      await formatBeforeSave(t.view);
    }
    const doc = t.view.state.doc;
    const url = fileAPI(this.workspaceID, path);
    const put = (ifMatch: boolean) => api(url, { method: 'PUT', body: doc.toString(), headers: ifMatch && t.etag ? { 'If-Match': t.etag } : {} });
    let r: Response;
    try {
      r = await put(true);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 412) throw e;
      if (!confirm(`${path} changed on disk since it was opened. Overwrite it?`)) return;
      r = await put(false);
    }
    t.etag = ((await r.json()) as { etag: string }).etag;
    t.saved = doc;
    this.renderTabs();
    say(`Saved ${path}.`);
    post({ type: 'saved', path });
  }
}
