// Runs programs over the /play/ws socket (public; the login cookie, when
// there is one, comes along) and renders their output as text.
import { el } from './dom';

interface PlayMessage { Id: string; Kind: string; Body: string }

/** Streams runs of one program at a time into an output element. */
export class Runner {
  private ws: WebSocket | null = null;
  private seq = 0;
  private current = '';

  /**
   * out receives the output as text; state is called with true while a
   * run is going on; each message is also passed to onMessage.
   */
  constructor(
    private readonly out: HTMLElement,
    private readonly state: (running: boolean) => void,
    private readonly onMessage: (kind: string, body: string) => void = () => {},
  ) {}

  /** Starts a run of body (Go source or txtar), stopping the previous one. */
  async run(body: string): Promise<void> {
    const ws = await this.socket();
    this.current = `r${++this.seq}`;
    this.out.replaceChildren();
    this.out.dataset.state = 'running';
    this.state(true);
    ws.send(JSON.stringify({ Id: this.current, Kind: 'run', Body: body }));
  }

  /** Kills the current run. */
  kill(): void {
    if (this.current && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ Id: this.current, Kind: 'kill' }));
  }

  private append(cls: string, text: string): void {
    this.out.append(el('span', cls, text));
    this.out.scrollTop = this.out.scrollHeight;
  }

  private async socket(): Promise<WebSocket> {
    if (this.ws?.readyState === WebSocket.OPEN) return this.ws;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/play/ws`);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error('cannot connect to the run service')), { once: true });
    });
    ws.addEventListener('message', (e) => {
      const m = JSON.parse(String(e.data)) as PlayMessage;
      if (m.Id !== this.current) return;
      this.onMessage(m.Kind, m.Body);
      if (m.Kind === 'stdout' || m.Kind === 'stderr') {
        this.append(m.Kind, m.Body);
      } else if (m.Kind === 'end') {
        this.append('end', m.Body ? `\n${m.Body}\n` : '\nProgram exited.\n');
        this.out.dataset.state = 'done';
        this.state(false);
      }
    });
    ws.addEventListener('close', () => {
      if (this.ws === ws) this.ws = null;
      if (this.out.dataset.state === 'running') {
        this.append('end', '\nConnection to the run service lost.\n');
        this.out.dataset.state = 'done';
        this.state(false);
      }
    });
    this.ws = ws;
    return ws;
  }
}
