// The debug view: breakpoints in the editors' gutters, a toolbar that
// launches the workspace's main package or the test under the cursor in
// Delve (through the DAP WebSocket), continue/step/stop with the keys VS
// Code uses, the call stack, the variables of the selected frame and a debug
// console with the program's output and an expression prompt. Everything
// the program or the debugger says is shown as text, never as HTML.
import { Prec, StateField, type Extension } from '@codemirror/state';
import { EditorView, ViewPlugin, gutter, keymap, type DecorationSet } from '@codemirror/view';
import { ApiError, encodePath } from './api';
import { SpacerMarker, bpField, bpLines, locDeco, markers, setLoc, toggleAt, type Loc } from './breakpoints';
import { DapClient, DapError } from './dap';
import { byId, el, say } from './dom';

/** What the debug view needs from the workbench. */
export interface DebugHost {
  /** Opens and shows the tab of a document URI; its editor, or null when it cannot be opened. */
  open(uri: string): Promise<EditorView | null>;
  /** The URI and editor of the active tab, or null. */
  active(): { uri: string; view: EditorView } | null;
  /** Saves every modified workspace file (debugging builds what is on disk). */
  saveAll(): Promise<void>;
}

// --- paths

const roots = ['/workspace/', '/goroot/', '/gomodcache/'];

/** The document URI of a DAP source path, or null outside the roots. */
function pathURI(path: string | undefined): string | null {
  return path && roots.some((r) => path.startsWith(r)) ? `file://${encodePath(path)}` : null;
}

/** The DAP path of a document URI. */
function uriPath(uri: string): string {
  return decodeURIComponent(uri.slice('file://'.length));
}

/** A short name of a DAP path for the user: workspace-relative, else the path. */
function shortPath(path: string): string {
  return path.startsWith('/workspace/') ? path.slice('/workspace/'.length) : path;
}

/** Makes control characters (ANSI and OSC sequences included) visible instead of interpreting them. */
function printable(s: string): string {
  return s.replace(/\r\n/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// --- the panel

interface Frame { id: number; name: string; line: number; source?: { path?: string; name?: string } }
interface Variable { name: string; value: string; type?: string; variablesReference: number }
type State = 'idle' | 'starting' | 'running' | 'stopped';

const maxConsoleLines = 5000;

/** The debug view of one workspace; one debug session at a time. */
export class DebugPanel {
  private breakpoints = new Map<string, number[]>(); // document URI -> 1-based lines
  private views = new Map<string, EditorView>();
  private client: DapClient | null = null;
  private state: State = 'idle';
  private configured = false; // breakpoints may be sent
  private threadId = 0;
  private frames: Frame[] = [];
  private frame = -1; // selected frame index
  private gen = 0; // bumped on every stop and resume; stale answers are dropped
  private loc: Loc | null = null;
  private exitCode: number | null = null;
  private bpTimers = new Map<string, number>();
  private readonly storeKey: string;

  constructor(readonly wsID: string, private readonly host: DebugHost) {
    this.storeKey = `ideserver.breakpoints.${wsID}`;
    try {
      const saved = JSON.parse(localStorage.getItem(this.storeKey) ?? '{}') as Record<string, number[]>;
      for (const [uri, lines] of Object.entries(saved)) if (Array.isArray(lines)) this.breakpoints.set(uri, lines.filter(Number.isInteger));
    } catch {
      // no or unreadable saved breakpoints
    }
    const on = (id: string, f: () => void) => byId(id).addEventListener('click', f);
    on('dbg-main', () => void this.debugMain());
    on('dbg-test', () => void this.debugTest());
    on('dbg-continue', () => this.resume('continue'));
    on('dbg-next', () => this.resume('next'));
    on('dbg-in', () => this.resume('stepIn'));
    on('dbg-out', () => this.resume('stepOut'));
    on('dbg-stop', () => void this.stop());
    on('debug-toggle', () => byId('wb').classList.toggle('debug-off'));
    byId<HTMLInputElement>('dbg-eval').addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      const input = e.target as HTMLInputElement;
      const expr = input.value.trim();
      input.value = '';
      if (expr) void this.evaluate(expr);
    });
    window.addEventListener('keydown', (e) => this.key(e), true);
    this.render();
  }

  /** The breakpoint gutter (click or F9), and the current line, for the editor of a Go document. */
  editorExtension(uri: string): Extension {
    return [
      bpField.init((state) => markers(state, this.breakpoints.get(uri) ?? [])),
      StateField.define<DecorationSet>({
        create: (state) => locDeco(state, this.loc?.uri === uri ? this.loc : null),
        update: (deco, tr) => {
          for (const e of tr.effects) if (e.is(setLoc)) return locDeco(tr.state, e.value?.uri === uri ? e.value : null);
          return deco.map(tr.changes);
        },
        provide: (f) => EditorView.decorations.from(f),
      }),
      Prec.high(gutter({
        class: 'cm-bp-gutter',
        markers: (v) => v.state.field(bpField),
        initialSpacer: () => new SpacerMarker(),
        domEventHandlers: { mousedown: (view, line) => toggleAt(view, line.from) },
      })),
      Prec.high(keymap.of([{ key: 'F9', run: (v) => toggleAt(v, v.state.selection.main.head) }])),
      EditorView.updateListener.of((u) => {
        if (u.state.field(bpField) !== u.startState.field(bpField)) this.breakpointsChanged(uri, bpLines(u.state));
      }),
      ViewPlugin.define((view) => {
        this.views.set(uri, view);
        return { destroy: () => { if (this.views.get(uri) === view) this.views.delete(uri); } };
      }),
    ];
  }

  /** The breakpoint lines of a document (1-based, sorted). */
  breakpointsOf(uri: string): readonly number[] {
    return this.breakpoints.get(uri) ?? [];
  }

  private breakpointsChanged(uri: string, lines: number[]): void {
    const old = this.breakpoints.get(uri) ?? [];
    if (old.length === lines.length && old.every((l, i) => l === lines[i])) return;
    this.breakpoints.set(uri, lines);
    const saved: Record<string, number[]> = {};
    for (const [u, ls] of this.breakpoints) if (ls.length) saved[u] = ls;
    try { localStorage.setItem(this.storeKey, JSON.stringify(saved)); } catch { /* storage full or off */ }
    if (!this.configured) return;
    clearTimeout(this.bpTimers.get(uri));
    this.bpTimers.set(uri, window.setTimeout(() => void this.sendBreakpoints(uri), 150));
  }

  private async sendBreakpoints(uri: string): Promise<void> {
    const c = this.client;
    if (!c) return;
    const lines = this.breakpoints.get(uri) ?? [];
    const path = uriPath(uri);
    try {
      const r = await c.request<{ breakpoints: { verified: boolean; line?: number; message?: string }[] }>('setBreakpoints', {
        source: { path, name: path.slice(path.lastIndexOf('/') + 1) },
        breakpoints: lines.map((line) => ({ line })),
      });
      r.breakpoints?.forEach((b, i) => {
        if (!b.verified) this.print(`Breakpoint ${shortPath(path)}:${lines[i]} not set${b.message ? `: ${b.message}` : ''}\n`, 'console');
      });
    } catch (e) {
      if (c === this.client) this.print(`Breakpoints of ${shortPath(path)}: ${(e as Error).message}\n`, 'stderr');
    }
  }

  // --- launching

  /** Debugs the main package of the active file's directory (when it is one), else of the workspace root. */
  async debugMain(): Promise<void> {
    let program = '/workspace';
    const a = this.host.active();
    if (a && a.uri.startsWith('file:///workspace/') && a.uri.endsWith('.go') && !a.uri.endsWith('_test.go') && /^package main\b/m.test(a.view.state.doc.toString())) {
      const path = uriPath(a.uri);
      program = path.slice(0, path.lastIndexOf('/'));
    }
    await this.launch({ mode: 'debug', program }, `main package ${program === '/workspace' ? '.' : shortPath(program)}`);
  }

  /** Debugs the test function under the cursor (mode test, -test.run ^Name$). */
  async debugTest(): Promise<void> {
    const a = this.host.active();
    if (!a || !a.uri.startsWith('file:///workspace/') || !a.uri.endsWith('_test.go')) {
      say('Put the cursor in a test function of a _test.go file.');
      return;
    }
    const doc = a.view.state.doc;
    let name = '';
    for (let n = doc.lineAt(a.view.state.selection.main.head).number; n >= 1; n--) {
      const m = /^func\s+(\(|\w+)/.exec(doc.line(n).text);
      if (!m) continue;
      if (/^Test\w*$/.test(m[1])) name = m[1];
      break;
    }
    if (!name) {
      say('Put the cursor in a test function (func TestXxx).');
      return;
    }
    const path = uriPath(a.uri);
    const program = path.slice(0, path.lastIndexOf('/'));
    await this.launch({ mode: 'test', program, args: ['-test.run', `^${name}$`, '-test.v'] }, `test ${name}`);
  }

  private async launch(args: Record<string, unknown>, what: string): Promise<void> {
    if (this.state !== 'idle') await this.stop();
    try {
      await this.host.saveAll();
    } catch (e) {
      say(`Not debugging: ${(e as Error).message}`);
      return;
    }
    this.exitCode = null;
    this.print(`Debugging ${what}…\n`, 'info');
    this.setState('starting', 'Building…');
    let c: DapClient;
    try {
      c = await DapClient.connect(this.wsID);
    } catch (e) {
      this.setState('idle', e instanceof ApiError ? e.message : 'The debugger is not available.');
      return;
    }
    this.client = c;
    const mine = () => this.client === c;
    c.on('output', (b: { category?: string; output?: string }) => {
      if (mine() && b.category !== 'telemetry' && b.output) this.print(b.output, b.category === 'stderr' ? 'stderr' : b.category === 'stdout' ? 'stdout' : 'console');
    });
    c.on('stopped', (b: { threadId?: number; reason?: string; description?: string; text?: string }) => { if (mine()) void this.stopped(b); });
    c.on('continued', () => { if (mine() && this.state === 'stopped') this.running(); });
    c.on('exited', (b: { exitCode?: number }) => { if (mine()) this.exitCode = b.exitCode ?? null; });
    c.on('terminated', () => { if (mine()) void this.stop(); });
    void c.closed.then(() => { if (mine()) this.ended(); });
    try {
      await c.request('initialize', {
        clientID: 'ideserver', clientName: 'ideserver', adapterID: 'go', locale: 'en',
        pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true,
        supportsVariableType: true, supportsRunInTerminalRequest: false,
      });
      const initialized = c.next('initialized');
      const launched = c.request('launch', { request: 'launch', name: what, ...args });
      launched.catch(() => undefined);
      await Promise.race([initialized, launched]);
      await initialized;
      this.configured = true;
      for (const uri of this.breakpoints.keys()) if (this.breakpoints.get(uri)?.length) await this.sendBreakpoints(uri);
      await c.request('configurationDone');
      await launched;
      if (mine() && this.state === 'starting') this.running();
    } catch (e) {
      if (!mine()) return;
      this.print(`${e instanceof DapError ? e.message : `The debug session failed: ${(e as Error).message}`}\n`, 'stderr');
      c.close();
      this.ended('Failed to start');
    }
  }

  /** Ends the session: disconnect (the server ends dlv and the program), then close the socket. */
  async stop(): Promise<void> {
    const c = this.client;
    if (!c) return;
    if (!c.isClosed) {
      const timeout = new Promise((r) => setTimeout(r, 3000));
      await Promise.race([c.request('disconnect', { terminateDebuggee: true }).catch(() => undefined), timeout]);
      c.close();
    }
    if (this.client === c) this.ended();
  }

  private ended(why?: string): void {
    this.client = null;
    this.configured = false;
    this.clearStop();
    const status = why ?? (this.exitCode === null ? 'Debug session ended' : `Exited with code ${this.exitCode}`);
    this.print(`${status}.\n`, 'info');
    this.setState('idle', status);
  }

  // --- stops and steps

  private running(): void {
    this.clearStop();
    this.setState('running', 'Running');
  }

  private clearStop(): void {
    this.gen++;
    this.frames = [];
    this.frame = -1;
    this.showLoc(null);
    byId('dbg-stack').replaceChildren();
    byId('dbg-vars').replaceChildren();
  }

  private async stopped(b: { threadId?: number; reason?: string; description?: string; text?: string }): Promise<void> {
    const c = this.client!;
    const gen = ++this.gen;
    this.threadId = b.threadId ?? this.threadId;
    this.state = 'stopped';
    try {
      if (!this.threadId) this.threadId = (await c.request<{ threads: { id: number }[] }>('threads')).threads?.[0]?.id ?? 0;
      const st = await c.request<{ stackFrames: Frame[] }>('stackTrace', { threadId: this.threadId, startFrame: 0, levels: 50 });
      if (gen !== this.gen) return;
      this.frames = st.stackFrames ?? [];
    } catch (e) {
      if (gen === this.gen) this.print(`Call stack: ${(e as Error).message}\n`, 'stderr');
      return;
    }
    const top = this.frames[0];
    const where = top?.source?.path ? `${shortPath(top.source.path)}:${top.line}` : (top?.name ?? 'an unknown location');
    const reason = b.description ?? b.reason ?? 'pause';
    this.setState('stopped', `Stopped at ${where} (${reason})`);
    if (b.reason === 'exception' && b.text) this.print(`${b.text}\n`, 'stderr');
    this.renderStack();
    const first = this.frames.findIndex((f) => pathURI(f.source?.path) !== null);
    await this.selectFrame(first < 0 ? 0 : first);
  }

  private renderStack(): void {
    byId('dbg-stack').replaceChildren(...this.frames.map((f, i) => {
      const li = el('li', i === this.frame ? 'selected' : '');
      const path = f.source?.path ?? '';
      const file = path.startsWith('/workspace/') ? shortPath(path) : path.slice(path.lastIndexOf('/') + 1);
      li.append(el('span', 'fn', f.name), el('span', 'at', path ? `${file}:${f.line}` : ''));
      li.title = f.source?.path ? `${f.source.path}:${f.line}` : f.name;
      li.addEventListener('click', () => void this.selectFrame(i));
      return li;
    }));
  }

  /** Selects a frame of the stack: its line is shown and highlighted, its variables listed. */
  private async selectFrame(i: number): Promise<void> {
    const f = this.frames[i];
    if (!f) return;
    this.frame = i;
    this.renderStack();
    const gen = this.gen;
    const uri = pathURI(f.source?.path);
    if (uri) {
      this.showLoc({ uri, line: f.line, top: i === 0 });
      const view = await this.host.open(uri).catch(() => null);
      if (view && gen === this.gen && f.line >= 1 && f.line <= view.state.doc.lines) {
        const pos = view.state.doc.line(f.line).from;
        view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: 'center' }) });
      }
    } else {
      this.showLoc(null);
    }
    await this.renderVars(f.id, gen);
  }

  private showLoc(loc: Loc | null): void {
    this.loc = loc;
    for (const v of this.views.values()) v.dispatch({ effects: setLoc.of(loc) });
  }

  private async renderVars(frameId: number, gen: number): Promise<void> {
    const c = this.client;
    if (!c) return;
    let scopes: { name: string; variablesReference: number; expensive?: boolean }[];
    try {
      scopes = (await c.request<{ scopes: typeof scopes }>('scopes', { frameId })).scopes ?? [];
    } catch (e) {
      if (gen === this.gen) byId('dbg-vars').replaceChildren(el('li', 'error', (e as Error).message));
      return;
    }
    if (gen !== this.gen) return;
    const nodes = scopes.map((s) => this.varNode({ name: s.name, value: '', variablesReference: s.variablesReference }, gen, 'scope'));
    byId('dbg-vars').replaceChildren(...nodes.map((n) => n.li));
    await Promise.all(nodes.map((n, i) => (scopes[i].expensive ? undefined : n.expand())));
  }

  /** A row of the variables tree; expandable when it has children (loaded on demand). */
  private varNode(v: Variable, gen: number, cls = ''): { li: HTMLLIElement; expand: () => Promise<void> } {
    const li = el('li', cls);
    const row = el('div', 'var');
    const twisty = el('span', 'twisty', v.variablesReference > 0 ? '▸' : '');
    row.append(twisty, el('span', 'name', printable(v.name)));
    if (v.value !== '' || cls !== 'scope') row.append(el('span', 'sep', ' = '), el('span', 'value', printable(v.value)));
    if (v.type) row.title = v.type;
    li.append(row);
    let children: HTMLUListElement | null = null;
    const expand = async () => {
      if (children) {
        children.hidden = !children.hidden;
        twisty.textContent = children.hidden ? '▸' : '▾';
        return;
      }
      const c = this.client;
      if (!c || v.variablesReference <= 0) return;
      children = el('ul');
      li.append(children);
      twisty.textContent = '▾';
      try {
        const r = await c.request<{ variables: Variable[] }>('variables', { variablesReference: v.variablesReference });
        if (gen !== this.gen) return;
        children.replaceChildren(...(r.variables ?? []).map((x) => this.varNode(x, gen).li));
      } catch (e) {
        children.replaceChildren(el('li', 'error', (e as Error).message));
      }
    };
    if (v.variablesReference > 0) row.addEventListener('click', () => void expand());
    return { li, expand };
  }

  /** Continue or one of the steps, for the stopped thread. */
  resume(command: 'continue' | 'next' | 'stepIn' | 'stepOut'): void {
    const c = this.client;
    if (!c || this.state !== 'stopped') return;
    this.running();
    c.request(command, { threadId: this.threadId }).catch((e) => {
      if (c === this.client) this.print(`${command}: ${(e as Error).message}\n`, 'stderr');
    });
  }

  private async evaluate(expr: string): Promise<void> {
    this.print(`> ${expr}\n`, 'input');
    const c = this.client;
    const f = this.frames[this.frame];
    if (!c || this.state !== 'stopped' || !f) {
      this.print('The program is not paused.\n', 'stderr');
      return;
    }
    try {
      const r = await c.request<{ result: string; type?: string }>('evaluate', { expression: expr, frameId: f.id, context: 'repl' });
      this.print(`${r.result}\n`, 'result');
    } catch (e) {
      this.print(`${(e as Error).message}\n`, 'stderr');
    }
  }

  // --- keys, status and console

  private key(e: KeyboardEvent): void {
    if (byId('wb').hidden || e.ctrlKey || e.altKey || e.metaKey) return;
    const act: Record<string, () => void> = {
      F5: () => (this.state === 'stopped' ? this.resume('continue') : this.state === 'idle' ? void this.debugMain() : undefined),
      'Shift+F5': () => void this.stop(),
      F10: () => this.resume('next'),
      F11: () => this.resume('stepIn'),
      'Shift+F11': () => this.resume('stepOut'),
    };
    const f = act[`${e.shiftKey ? 'Shift+' : ''}${e.key}`];
    if (!f) return;
    e.preventDefault();
    e.stopPropagation();
    f();
  }

  private setState(state: State, status: string): void {
    this.state = state;
    const s = byId('dbg-status');
    s.textContent = status;
    s.dataset.state = state;
    this.render();
  }

  private render(): void {
    const stopped = this.state === 'stopped';
    const enable = (id: string, on: boolean) => { byId<HTMLButtonElement>(id).disabled = !on; };
    for (const id of ['dbg-continue', 'dbg-next', 'dbg-in', 'dbg-out']) enable(id, stopped);
    enable('dbg-stop', this.state !== 'idle');
  }

  /** Appends text to the debug console (as text, with control characters made visible). */
  private print(text: string, kind: string): void {
    const out = byId('dbg-console');
    const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
    out.append(el('span', kind, printable(text)));
    while (out.childElementCount > maxConsoleLines) out.firstElementChild?.remove();
    if (atEnd) out.scrollTop = out.scrollHeight;
  }
}
