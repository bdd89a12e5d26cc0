// One terminal of the terminal panel: an xterm.js pane and its attachment
// to a workspace terminal, a WebSocket (binary frames for bytes, JSON text
// frames for resize and exit). Loaded with xterm.js when the first terminal
// is shown, so a workbench without terminals never fetches it.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { openSocket, workspaceAPI } from './api';
import { el } from './dom';

/** What a terminal's pane needs from the panel that shows it (the terminal panel). */
export interface TermHost {
  /** The workspace whose terminals the panel shows. */
  readonly workspaceID: string;
  /** Whether the panel still has the pane (a dropped pane does not reattach). */
  has(p: TermPane): boolean;
  /** Shows the pane (its tab was clicked). */
  show(p: TermPane): void;
  /** Removes the pane from the panel and closes it (it cannot reattach). */
  drop(p: TermPane): void;
  /** Kills the pane's terminal on the server and drops the pane (its tab's close button). */
  kill(p: TermPane): Promise<void>;
}

/** A terminal's pane and attachment; its panel shows, drops and kills it. */
export class TermPane {
  readonly term = new Terminal({ fontSize: 13, fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', scrollback: 5000, theme: { background: '#1e1e1e' } });
  readonly fit = new FitAddon();
  readonly box = el('div', 'term');
  readonly tab = el('div', 'tab');
  private ws: WebSocket | null = null;
  private ended = false;
  private readonly dec = new TextDecoder();
  /** Called with the terminal's output as text and, at exit, with kind "end". */
  onOutput: ((kind: 'stdout' | 'end', body: string) => void) | null = null;

  constructor(private readonly panel: TermHost, readonly id: string, label: string) {
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
    const ws = await openSocket(`${workspaceAPI(this.panel.workspaceID)}/terminals/${encodeURIComponent(this.id)}/attach`);
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
