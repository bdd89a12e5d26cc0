// The debug session of the debug panel, loaded on first use (a debug
// button or F5): it launches the workspace's main package or the test under
// the cursor in Delve (through the DAP WebSocket), continues and steps, and
// shows the call stack, the variables of the selected frame and a debug
// console with the program's output and an expression prompt. Everything
// the program or the debugger says is shown as text, never as HTML.
import { EditorView } from '@codemirror/view';
import { ApiError } from './api';
import type { Loc } from './breakpoints';
import { DapClient, DapError } from './dap';
import { byId, el, say } from './dom';
import { baseName, clientPathURI, isWorkspaceURI, parentDir, shortPath, uriClientPath, workspaceRoot } from './paths';

/** Makes control characters (ANSI and OSC sequences included) visible instead of interpreting them. */
export function printable(s: string): string {
  return s.replace(/\r\n/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** What a session needs from the debug panel that loaded it (and, through it, from the workbench). */
export interface SessionHost {
  /** Opens and shows the tab of a document URI; its editor, or null when it cannot be opened. */
  open(uri: string): Promise<EditorView | null>;
  /** The URI and editor of the active tab, or null. */
  active(): { uri: string; view: EditorView } | null;
  /** Saves every modified workspace file (debugging builds what is on disk). */
  saveAll(): Promise<void>;
  /** The breakpoint lines (1-based) by document URI. */
  readonly breakpoints: ReadonlyMap<string, readonly number[]>;
  /** Shows (or, with null, hides) the current line in the editors. */
  showLoc(loc: Loc | null): void;
}

interface Frame { id: number; name: string; line: number; source?: { path?: string; name?: string } }
interface Variable { name: string; value: string; type?: string; variablesReference: number }
type State = 'idle' | 'starting' | 'running' | 'stopped';

const maxConsoleLines = 5000;

/** The debug session of one workspace: one program (one DAP connection, one dlv) at a time. */
export class DebugSession {
  private client: DapClient | null = null;
  private state: State = 'idle';
  /** Whether breakpoints may be sent (the adapter is initialized). */
  configured = false;
  private threadId = 0;
  private frames: Frame[] = [];
  private frame = -1; // selected frame index
  private gen = 0; // bumped on every stop and resume; stale answers are dropped
  private exitCode: number | null = null;
  private bpTimers = new Map<string, number>();

  constructor(readonly workspaceID: string, private readonly host: SessionHost) {
    byId<HTMLInputElement>('dbg-eval').addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      const input = e.target as HTMLInputElement;
      const expr = input.value.trim();
      input.value = '';
      if (expr) void this.evaluate(expr);
    });
    this.render();
  }

  /** Whether no program is being debugged. */
  get idle(): boolean { return this.state === 'idle'; }
  /** Whether the program is paused. */
  get paused(): boolean { return this.state === 'stopped'; }

  /** Sends the breakpoints of uri to the adapter soon (they changed). */
  breakpointsChanged(uri: string): void {
    if (!this.configured) return;
    clearTimeout(this.bpTimers.get(uri));
    this.bpTimers.set(uri, window.setTimeout(() => void this.sendBreakpoints(uri), 150));
  }

  private async sendBreakpoints(uri: string): Promise<void> {
    const c = this.client;
    if (!c) return;
    const lines = this.host.breakpoints.get(uri) ?? [];
    const path = uriClientPath(uri);
    try {
      const r = await c.request<{ breakpoints: { verified: boolean; line?: number; message?: string }[] }>('setBreakpoints', {
        source: { path, name: baseName(path) },
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
    let program = workspaceRoot;
    const a = this.host.active();
    if (a && isWorkspaceURI(a.uri) && a.uri.endsWith('.go') && !a.uri.endsWith('_test.go') && /^package main\b/m.test(a.view.state.doc.toString())) {
      program = parentDir(uriClientPath(a.uri));
    }
    await this.launch({ mode: 'debug', program }, `main package ${program === workspaceRoot ? '.' : shortPath(program)}`);
  }

  /** Debugs the test function under the cursor (mode test, -test.run ^Name$). */
  async debugTest(): Promise<void> {
    const a = this.host.active();
    if (!a || !isWorkspaceURI(a.uri) || !a.uri.endsWith('_test.go')) {
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
    const program = parentDir(uriClientPath(a.uri));
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
      c = await DapClient.connect(this.workspaceID);
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
      for (const uri of this.host.breakpoints.keys()) if (this.host.breakpoints.get(uri)?.length) await this.sendBreakpoints(uri);
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
    this.host.showLoc(null);
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
    const first = this.frames.findIndex((f) => clientPathURI(f.source?.path) !== null);
    await this.selectFrame(first < 0 ? 0 : first);
  }

  private renderStack(): void {
    byId('dbg-stack').replaceChildren(...this.frames.map((f, i) => {
      const li = el('li', i === this.frame ? 'selected' : '');
      const path = f.source?.path ?? '';
      const file = path.startsWith(`${workspaceRoot}/`) ? shortPath(path) : baseName(path);
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
    const uri = clientPathURI(f.source?.path);
    if (uri) {
      this.host.showLoc({ uri, line: f.line, top: i === 0 });
      const view = await this.host.open(uri).catch(() => null);
      if (view && gen === this.gen && f.line >= 1 && f.line <= view.state.doc.lines) {
        const pos = view.state.doc.line(f.line).from;
        view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: 'center' }) });
      }
    } else {
      this.host.showLoc(null);
    }
    await this.renderVars(f.id, gen);
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

  /** Evaluates an expression in the selected frame and prints the result. */
  async evaluate(expr: string): Promise<void> {
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

  // --- status and console

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
