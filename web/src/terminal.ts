// The terminal panel: xterm.js views attached to the workspace's terminals
// (binary frames for bytes, JSON text frames for resize and exit). The
// terminals live on the server, so a reload lists and re-attaches them.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { call, openSocket, wsPath, type TerminalInfo } from './api';
import { byId, el, say } from './dom';

class TermView {
  readonly term = new Terminal({ fontSize: 13, fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', scrollback: 5000, theme: { background: '#1e1e1e' } });
  readonly fit = new FitAddon();
  readonly box = el('div', 'term');
  readonly tab = el('div', 'tab');
  private ws: WebSocket | null = null;
  private ended = false;
  private readonly dec = new TextDecoder();
  /** Called with the terminal's output as text and, at exit, with kind "end". */
  onOutput: ((kind: 'stdout' | 'end', body: string) => void) | null = null;

  constructor(readonly panel: TermPanel, readonly id: string, label: string) {
    this.term.loadAddon(this.fit);
    const name = el('span', 'name', label);
    const close = el('button', 'close', '×');
    close.title = 'Kill this terminal';
    close.addEventListener('click', (e) => { e.stopPropagation(); void panel.kill(this); });
    this.tab.append(name, close);
    this.tab.addEventListener('click', () => panel.show(this));
    this.box.dataset.terminal = id;
    const enc = new TextEncoder();
    this.term.onData((d) => this.send(enc.encode(d)));
    this.term.onBinary((d) => this.send(Uint8Array.from(d, (c) => c.charCodeAt(0))));
    this.term.onResize(({ cols, rows }) => this.send(JSON.stringify({ type: 'resize', cols, rows })));
  }

  private send(data: string | Uint8Array<ArrayBuffer>) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** Attaches to the server's terminal; the server replays its scrollback first. */
  async attach(): Promise<void> {
    const ws = await openSocket(`${wsPath(this.panel.wsID)}/terminals/${encodeURIComponent(this.id)}/attach`);
    this.ws = ws;
    ws.addEventListener('message', (e) => {
      if (typeof e.data === 'string') {
        const msg = JSON.parse(e.data);
        if (msg.type === 'exit') {
          this.ended = true;
          this.term.write(`\r\n[process exited with code ${Number(msg.code)}]\r\n`);
          this.onOutput?.('end', Number(msg.code) ? `exit status ${Number(msg.code)}` : '');
        } else if (msg.type === 'overrun') {
          this.term.write('\r\n[output skipped]\r\n');
        }
        return;
      }
      const bytes = new Uint8Array(e.data as ArrayBuffer);
      this.term.write(bytes);
      this.onOutput?.('stdout', this.dec.decode(bytes, { stream: true }));
    });
    ws.addEventListener('close', () => {
      this.ws = null;
      if (!this.ended && this.panel.has(this)) setTimeout(() => { this.attach().catch(() => this.panel.drop(this)); }, 1000);
    });
    this.send(JSON.stringify({ type: 'resize', cols: this.term.cols, rows: this.term.rows }));
  }

  close(): void {
    this.ended = true;
    this.ws?.close();
    this.term.dispose();
    this.box.remove();
    this.tab.remove();
  }
}

/** The terminal panel of one workspace. */
export class TermPanel {
  private views: TermView[] = [];
  private active: TermView | null = null;
  private count = 0;

  constructor(readonly wsID: string) {
    byId('new-term').addEventListener('click', () => { this.create().catch((e) => say(String(e.message ?? e))); });
    new ResizeObserver(() => this.active?.fit.fit()).observe(byId('terms'));
  }

  has(v: TermView): boolean { return this.views.includes(v); }

  /** Lists the workspace's running terminals and attaches to each. */
  async restore(): Promise<void> {
    const { terminals } = await call<{ terminals: TerminalInfo[] }>('GET', `${wsPath(this.wsID)}/terminals`);
    for (const t of terminals) {
      if (!t.exited) await this.add(t.id);
    }
  }

  /**
   * Starts a new shell (or command, e.g. ["go","run","."]) and shows it;
   * onOutput, when given, receives its output as text.
   */
  async create(command?: string[], onOutput?: TermView['onOutput']): Promise<void> {
    const t = await call<TerminalInfo>('POST', `${wsPath(this.wsID)}/terminals`, { cols: 80, rows: 24, ...(command ? { command } : {}) });
    await this.add(t.id, onOutput);
  }

  private async add(id: string, onOutput: TermView['onOutput'] = null): Promise<void> {
    const v = new TermView(this, id, `Terminal ${++this.count}`);
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
  }

  drop(v: TermView): void {
    this.views = this.views.filter((o) => o !== v);
    v.close();
    if (this.active === v) {
      this.active = null;
      const next = this.views.at(-1);
      if (next) this.show(next);
    }
  }

  async kill(v: TermView): Promise<void> {
    this.drop(v);
    await call('DELETE', `${wsPath(this.wsID)}/terminals/${encodeURIComponent(v.id)}`).catch(() => undefined);
  }
}
