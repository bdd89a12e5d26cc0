// The terminal panel: tabs of the workspace's terminals, each an xterm.js
// view (term-view.ts, loaded with xterm.js when the first terminal is
// shown). The terminals live on the server, so a reload lists and
// re-attaches them, in the saved order and with the saved one active; the
// panel's height is dragged at its top edge and saved too.
import { call, workspaceAPI, type TerminalInfo } from './api';
import { byId, say } from './dom';
import type { TermHost, TermView } from './term-view';

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
  private views: TermView[] = [];
  private active: TermView | null = null;
  private count = 0;
  private height = 0; // 0: the style sheet's default
  private module: Promise<typeof import('./term-view')> | null = null;
  /** Called after a change of the layout (terminals, the shown one, the height). */
  onChange: () => void = () => {};

  constructor(readonly workspaceID: string) {
    byId('new-term').addEventListener('click', () => { this.create().catch((e) => say(String(e.message ?? e))); });
    new ResizeObserver(() => this.active?.fit.fit()).observe(byId('terms'));
    this.installResize();
  }

  has(v: TermView): boolean { return this.views.includes(v); }

  /** The layout to save. */
  layout(): TermLayout {
    return { order: this.views.map((v) => v.id), active: this.active?.id ?? null, ...(this.height ? { height: this.height } : {}) };
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
    const active = this.views.find((v) => v.id === saved.active);
    if (active) this.show(active);
  }

  /**
   * Starts a new shell (or command, e.g. ["go","run","."]) and shows it;
   * onOutput, when given, receives its output as text.
   */
  async create(command?: string[], onOutput?: TermView['onOutput']): Promise<void> {
    const t = await call<TerminalInfo>('POST', `${workspaceAPI(this.workspaceID)}/terminals`, { cols: 80, rows: 24, ...(command ? { command } : {}) });
    await this.add(t.id, onOutput);
  }

  private async add(id: string, onOutput: TermView['onOutput'] = null): Promise<void> {
    this.module ??= import('./term-view');
    let mod: typeof import('./term-view');
    try {
      mod = await this.module;
    } catch (e) {
      this.module = null;
      throw new Error(`cannot load the terminal: ${(e as Error).message}`);
    }
    const v = new mod.TermView(this, id, `Terminal ${++this.count}`);
    v.onOutput = onOutput;
    this.views.push(v);
    byId('term-tabs').insertBefore(v.tab, byId('new-term'));
    byId('terms').append(v.box);
    v.term.open(v.box);
    this.show(v);
    try {
      await v.attach();
    } catch (e) {
      this.drop(v);
      throw e;
    }
  }

  show(v: TermView): void {
    this.active = v;
    for (const o of this.views) {
      o.box.hidden = o !== v;
      o.tab.classList.toggle('active', o === v);
    }
    v.fit.fit();
    v.term.focus();
    this.onChange();
  }

  drop(v: TermView): void {
    this.views = this.views.filter((o) => o !== v);
    v.close();
    if (this.active === v) {
      this.active = null;
      const next = this.views.at(-1);
      if (next) this.show(next);
    }
    this.onChange();
  }

  async kill(v: TermView): Promise<void> {
    this.drop(v);
    await call('DELETE', `${workspaceAPI(this.workspaceID)}/terminals/${encodeURIComponent(v.id)}`).catch(() => undefined);
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
