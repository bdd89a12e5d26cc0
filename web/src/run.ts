// Runs programs over the /play/ws socket (public; the login cookie, when
// there is one, comes along) and renders their output as text. Programs
// run on fake time unless asked for real time: their output comes at once,
// each piece with the delay the program slept before writing it, and is
// shown with those delays, as the Go Playground replays its events.
import { el } from './dom';

/** A message of the socket; Delay (nanoseconds) only on fake time. */
interface PlayMessage { Id: string; Kind: string; Body: string; Delay?: number }

/** Streams runs of one program at a time into an output element. */
export class Runner {
  private ws: WebSocket | null = null;
  private seq = 0;
  private current = '';
  /** Messages of the current run are shown in order, after their delays. */
  private playing: Promise<void> = Promise.resolve();

  /**
   * out receives the output as text; state is called with true while a
   * run is going on; each message is also passed to onMessage.
   */
  constructor(
    private readonly out: HTMLElement,
    private readonly state: (running: boolean) => void,
    private readonly onMessage: (kind: string, body: string) => void = () => {},
  ) {}

  /**
   * Starts a run of body (Go source or txtar), stopping the previous one;
   * on the wall clock with realTime, else on fake time.
   */
  async run(body: string, realTime = false): Promise<void> {
    const ws = await this.socket();
    this.current = `r${++this.seq}`;
    this.playing = Promise.resolve();
    this.out.replaceChildren();
    this.out.dataset.state = 'running';
    this.state(true);
    ws.send(JSON.stringify({ Id: this.current, Kind: 'run', Body: body, ...(realTime ? { RealTime: true } : {}) }));
  }

  /** Kills the current run, and stops showing its output. */
  kill(): void {
    if (!this.current) return;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ Id: this.current, Kind: 'kill' }));
    if (this.out.dataset.state === 'running') {
      this.current = '';
      this.append('end', '\nProgram killed.\n');
      this.finish();
    }
  }

  private finish(): void {
    this.out.dataset.state = 'done';
    this.state(false);
  }

  /** Shows m once the messages before it are shown and its delay is over. */
  private show(m: PlayMessage): void {
    const id = m.Id;
    this.playing = this.playing.then(async () => {
      const ms = (m.Delay ?? 0) / 1e6;
      if (ms >= 1) await new Promise((r) => setTimeout(r, ms));
      if (id !== this.current) return;
      this.onMessage(m.Kind, m.Body);
      if (m.Kind === 'stdout' || m.Kind === 'stderr') {
        this.append(m.Kind, m.Body);
      } else if (m.Kind === 'end') {
        this.append('end', m.Body ? `\n${m.Body}\n` : '\nProgram exited.\n');
        this.finish();
      }
    });
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
      if (m.Id === this.current) this.show(m);
    });
    ws.addEventListener('close', () => {
      if (this.ws === ws) this.ws = null;
      if (this.out.dataset.state === 'running') {
        this.append('end', '\nConnection to the run service lost.\n');
        this.finish();
      }
    });
    this.ws = ws;
    return ws;
  }
}
