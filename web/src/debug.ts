// The debug panel: breakpoints in the editors' gutters (kept in the
// browser's storage), the current line of the selected stack frame, the
// toolbar and the keys VS Code uses (F5, F9, F10, F11, Shift-F5,
// Shift-F11). The session itself (Delve over the DAP WebSocket, call stack,
// variables, debug console) is in debug-session.ts, loaded on first use.
import { Prec, StateField, type Extension } from '@codemirror/state';
import { EditorView, ViewPlugin, gutter, keymap, type DecorationSet } from '@codemirror/view';
import { SpacerMarker, bpField, bpLines, locDeco, markers, setLoc, toggleAt, type Loc } from './breakpoints';
import type { DebugSession, SessionHost } from './debug-session';
import { byId, say } from './dom';

/**
 * What the debug panel needs from the workbench: the part of a session's
 * host that the workbench provides (the panel adds the breakpoints and the
 * current line).
 */
export type DebugHost = Pick<SessionHost, 'open' | 'active' | 'saveAll'>;

/** The debug panel of one workspace; one debug session at a time. */
export class DebugPanel {
  /** The breakpoint lines (1-based, sorted) by document URI. */
  readonly breakpoints = new Map<string, number[]>();
  private editors = new Map<string, EditorView>();
  private loc: Loc | null = null;
  private session: DebugSession | null = null;
  private loading: Promise<DebugSession | null> | null = null;
  private readonly storeKey: string;
  /** Called when the panel is shown or hidden. */
  onToggle: (visible: boolean) => void = () => {};

  constructor(readonly workspaceID: string, private readonly host: DebugHost) {
    this.storeKey = `ideserver.breakpoints.${workspaceID}`;
    try {
      const saved = JSON.parse(localStorage.getItem(this.storeKey) ?? '{}') as Record<string, number[]>;
      for (const [uri, lines] of Object.entries(saved)) if (Array.isArray(lines)) this.breakpoints.set(uri, lines.filter(Number.isInteger));
    } catch {
      // no or unreadable saved breakpoints
    }
    const on = (id: string, f: (s: DebugSession) => unknown) => byId(id).addEventListener('click', () => void this.with(f));
    on('dbg-main', (s) => s.debugMain());
    on('dbg-test', (s) => s.debugTest());
    on('dbg-continue', (s) => s.resume('continue'));
    on('dbg-next', (s) => s.resume('next'));
    on('dbg-in', (s) => s.resume('stepIn'));
    on('dbg-out', (s) => s.resume('stepOut'));
    on('dbg-stop', (s) => s.stop());
    byId('debug-toggle').addEventListener('click', () => this.setVisible(!this.visible));
    byId<HTMLInputElement>('dbg-eval').addEventListener('keydown', (e) => {
      // The session's own handler takes over once it is loaded.
      if (e.key !== 'Enter' || this.session) return;
      const input = e.target as HTMLInputElement;
      const expr = input.value.trim();
      input.value = '';
      if (expr) void this.with((s) => s.evaluate(expr));
    });
    window.addEventListener('keydown', (e) => this.key(e), true);
  }

  /** Whether the debug panel is shown. */
  get visible(): boolean { return !byId('wb').classList.contains('debug-off'); }

  /** Shows or hides the debug panel. */
  setVisible(on: boolean): void {
    if (on === this.visible) return;
    byId('wb').classList.toggle('debug-off', !on);
    byId('debug-toggle').setAttribute('aria-pressed', String(on));
    this.onToggle(on);
  }

  /** Shows the panel, loads the session code once and runs f with the session. */
  private async with(f: (s: DebugSession) => unknown): Promise<void> {
    this.setVisible(true);
    this.loading ??= import('./debug-session').then(
      ({ DebugSession }) => (this.session = new DebugSession(this.workspaceID, {
        open: (u) => this.host.open(u),
        active: () => this.host.active(),
        saveAll: () => this.host.saveAll(),
        breakpoints: this.breakpoints,
        showLoc: (loc) => this.showLoc(loc),
      })),
      (e) => {
        this.loading = null;
        say(`Cannot load the debugger: ${(e as Error).message}`);
        return null;
      },
    );
    const s = await this.loading;
    if (s) await f(s);
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
        this.editors.set(uri, view);
        return { destroy: () => { if (this.editors.get(uri) === view) this.editors.delete(uri); } };
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
    this.session?.breakpointsChanged(uri);
  }

  private showLoc(loc: Loc | null): void {
    this.loc = loc;
    for (const v of this.editors.values()) v.dispatch({ effects: setLoc.of(loc) });
  }

  // --- keys

  private key(e: KeyboardEvent): void {
    if (byId('wb').hidden || e.ctrlKey || e.altKey || e.metaKey) return;
    const s = this.session;
    const act: Record<string, () => void> = {
      F5: () => (s?.paused ? s.resume('continue') : !s || s.idle ? void this.with((x) => x.debugMain()) : undefined),
      'Shift+F5': () => void s?.stop(),
      F10: () => s?.resume('next'),
      F11: () => s?.resume('stepIn'),
      'Shift+F11': () => s?.resume('stepOut'),
    };
    const f = act[`${e.shiftKey ? 'Shift+' : ''}${e.key}`];
    if (!f) return;
    e.preventDefault();
    e.stopPropagation();
    f();
  }
}
