// The terminal panel: tabs of the workspace's terminals, each an xterm.js
// pane (term-pane.ts, loaded with xterm.js when the first terminal is
// shown). The terminals live on the server, so a reload lists and
// re-attaches them, in the saved order and with the saved one active; the
// panel's height is dragged at its top edge and saved too.
import { call, workspaceAPI, type TerminalInfo } from './api';
import { byId, say } from './dom';
import type { TermHost, TermPane } from './term-pane';

/** The panel's layout as kept in the workspace state. */
export interface TermLayout {
  /** Terminal ids in tab order. */
  order?: string[];
  /** The id of the shown terminal. */
  active?: string | null;
  /** The panel's height in CSS pixels. */
  height?: number;
}

const minHeight = 60;

/** The terminal panel of one workspace. */
export class TermPanel implements TermHost {
  private panes: TermPane[] = [];
  private active: TermPane | null = null;
  private count = 0;
  private height = 0; // 0: the style sheet's default
  private module: Promise<typeof import('./term-pane')> | null = null;
  /** Called after a change of the layout (terminals, the shown one, the height). */
  onChange: () => void = () => {};

  constructor(readonly workspaceID: string) {
    byId('new-term').addEventListener('click', () => { this.create().catch((e) => say(String(e.message ?? e))); });
    new ResizeObserver(() => this.active?.fit.fit()).observe(byId('terms'));
    this.installResize();
  }

  has(p: TermPane): boolean { return this.panes.includes(p); }

  /** The layout to save. */
  layout(): TermLayout {
    return { order: this.panes.map((p) => p.id), active: this.active?.id ?? null, ...(this.height ? { height: this.height } : {}) };
  }

  /**
   * Lists the workspace's running terminals and attaches to each, those of
   * the saved layout first in its order; shows the saved active one.
   */
  async restore(saved: TermLayout = {}): Promise<void> {
    if (saved.height) this.setHeight(saved.height);
    const { terminals } = await call<{ terminals: TerminalInfo[] }>('GET', `${workspaceAPI(this.workspaceID)}/terminals`);
    const order = saved.order ?? [];
    const rank = (id: string) => { const i = order.indexOf(id); return i < 0 ? order.length : i; };
    const live = terminals.filter((t) => !t.exited).sort((a, b) => rank(a.id) - rank(b.id));
    for (const t of live) await this.add(t.id);
    const active = this.panes.find((p) => p.id === saved.active);
    if (active) this.show(active);
  }

  /**
   * Starts a new shell (or command, e.g. ["go","run","."]) and shows it;
   * onOutput, when given, receives its output as text.
   */
  async create(command?: string[], onOutput?: TermPane['onOutput']): Promise<void> {
    const t = await call<TerminalInfo>('POST', `${workspaceAPI(this.workspaceID)}/terminals`, { cols: 80, rows: 24, ...(command ? { command } : {}) });
    await this.add(t.id, onOutput);
  }

  private async add(id: string, onOutput: TermPane['onOutput'] = null): Promise<void> {
    this.module ??= import('./term-pane');
    let mod: typeof import('./term-pane');
    try {
      mod = await this.module;
    } catch (e) {
      this.module = null;
      throw new Error(`cannot load the terminal: ${(e as Error).message}`);
    }
    const p = new mod.TermPane(this, id, `Terminal ${++this.count}`);
    p.onOutput = onOutput;
    this.panes.push(p);
    byId('term-tabs').insertBefore(p.tab, byId('new-term'));
    byId('terms').append(p.box);
    p.term.open(p.box);
    this.show(p);
    try {
      await p.attach();
    } catch (e) {
      this.drop(p);
      throw e;
    }
  }

  show(p: TermPane): void {
    this.active = p;
    for (const o of this.panes) {
      o.box.hidden = o !== p;
      o.tab.classList.toggle('active', o === p);
    }
    p.fit.fit();
    p.term.focus();
    this.onChange();
  }

  drop(p: TermPane): void {
    this.panes = this.panes.filter((o) => o !== p);
    p.close();
    if (this.active === p) {
      this.active = null;
      const next = this.panes.at(-1);
      if (next) this.show(next);
    }
    this.onChange();
  }

  async kill(p: TermPane): Promise<void> {
    this.drop(p);
    await call('DELETE', `${workspaceAPI(this.workspaceID)}/terminals/${encodeURIComponent(p.id)}`).catch(() => undefined);
  }

  // --- height

  private setHeight(px: number): void {
    const max = Math.max(minHeight, window.innerHeight - 120);
    this.height = Math.round(Math.min(Math.max(px, minHeight), max));
    byId('wb').style.setProperty('--panel-h', `${this.height}px`);
  }

  /** Dragging #panel-resize (or its arrow keys) sets the panel's height. */
  private installResize(): void {
    const handle = byId('panel-resize');
    const panel = byId('panel');
    handle.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      handle.setPointerCapture(e.pointerId);
      const bottom = panel.getBoundingClientRect().bottom;
      const move = (m: PointerEvent) => this.setHeight(bottom - m.clientY);
      const up = () => {
        handle.removeEventListener('pointermove', move);
        handle.removeEventListener('pointerup', up);
        handle.removeEventListener('pointercancel', up);
        this.onChange();
      };
      handle.addEventListener('pointermove', move);
      handle.addEventListener('pointerup', up);
      handle.addEventListener('pointercancel', up);
    });
    handle.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
      e.preventDefault();
      this.setHeight(panel.getBoundingClientRect().height + (e.key === 'ArrowUp' ? 20 : -20));
      this.onChange();
    });
  }
}
