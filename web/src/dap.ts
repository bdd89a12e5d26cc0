// A small Debug Adapter Protocol client over the workspace's DAP WebSocket:
// one DAP message (JSON, no Content-Length header) per text frame. Requests
// are promises of their response bodies; events go to handlers by name.
import { openSocket, workspaceAPI } from './api';

/** A DAP message as it travels on the socket. */
export interface DapMessage {
  seq: number;
  type: 'request' | 'response' | 'event';
  command?: string;
  event?: string;
  request_seq?: number;
  success?: boolean;
  message?: string;
  body?: any;
}

/** A DAP error response (success: false); message is the adapter's text for the user. */
export class DapError extends Error {
  constructor(readonly command: string, message: string) {
    super(message);
  }
}

/** The error of requests pending or sent after the socket closed. */
export class DapClosedError extends Error {
  constructor() {
    super('the debug session ended');
  }
}

type EventHandler = (body: any) => void;

/** One debug session on one WebSocket; the server runs one dlv per socket. */
export class DapClient {
  private seq = 0;
  private pending = new Map<number, { command: string; resolve: (body: unknown) => void; reject: (e: Error) => void }>();
  private handlers = new Map<string, EventHandler[]>();
  private closedFlag = false;
  /** Resolves when the socket has closed (for any reason). */
  readonly closed: Promise<void>;

  private constructor(private readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.addEventListener('close', () => {
        this.closedFlag = true;
        for (const p of this.pending.values()) p.reject(new DapClosedError());
        this.pending.clear();
        resolve();
      }, { once: true });
    });
    ws.addEventListener('message', (e) => {
      if (typeof e.data !== 'string') return;
      let m: DapMessage;
      try {
        m = JSON.parse(e.data) as DapMessage;
      } catch {
        return;
      }
      this.dispatch(m);
    });
  }

  /** Opens the DAP socket of a workspace (with a fresh ticket). */
  static async connect(workspaceID: string): Promise<DapClient> {
    return new DapClient(await openSocket(`${workspaceAPI(workspaceID)}/dap`));
  }

  /** Whether the socket has closed. */
  get isClosed(): boolean { return this.closedFlag; }

  private dispatch(m: DapMessage): void {
    if (m.type === 'response' && m.request_seq !== undefined) {
      const p = this.pending.get(m.request_seq);
      if (!p) return;
      this.pending.delete(m.request_seq);
      if (m.success) p.resolve(m.body ?? {});
      else p.reject(new DapError(p.command, m.body?.error?.format ?? m.message ?? `${p.command} failed`));
    } else if (m.type === 'event' && m.event) {
      for (const h of this.handlers.get(m.event) ?? []) h(m.body ?? {});
    } else if (m.type === 'request' && m.command) {
      // Reverse requests (runInTerminal, startDebugging) are not supported.
      this.send({ type: 'response', request_seq: m.seq, command: m.command, success: false, message: 'not supported by this client' });
    }
  }

  private send(m: Omit<DapMessage, 'seq'>): number {
    const seq = ++this.seq;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ seq, ...m }));
    return seq;
  }

  /**
   * Sends a request and resolves with its response's body; an error
   * response rejects with DapError, a closed socket with DapClosedError.
   */
  request<T = any>(command: string, args?: unknown): Promise<T> {
    if (this.closedFlag) return Promise.reject(new DapClosedError());
    return new Promise<T>((resolve, reject) => {
      const seq = this.send({ type: 'request', command, ...(args === undefined ? {} : { arguments: args }) } as Omit<DapMessage, 'seq'>);
      this.pending.set(seq, { command, resolve: resolve as (b: unknown) => void, reject });
    });
  }

  /** Calls h with the body of every event of that name. */
  on(event: string, h: EventHandler): void {
    const list = this.handlers.get(event) ?? [];
    list.push(h);
    this.handlers.set(event, list);
  }

  /** Resolves with the body of the next event of that name (rejects when the socket closes first). */
  next(event: string): Promise<any> {
    return new Promise((resolve, reject) => {
      let done = false;
      this.on(event, (b) => { if (!done) { done = true; resolve(b); } });
      void this.closed.then(() => { if (!done) { done = true; reject(new DapClosedError()); } });
    });
  }

  /** Closes the socket; the server then ends dlv and the program. */
  close(): void {
    this.ws.close();
  }
}
