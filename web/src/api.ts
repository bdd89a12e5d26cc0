// The HTTP and WebSocket API as the browser uses it: a login's cookie with
// the CSRF header on every request, single-use tickets for WebSockets.
import { encodePath, type Root } from './paths';

/** An error answer of the API: {"error":{"code","message"}}. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** fetch with the login cookie and the CSRF header; answers other than 2xx and 304 throw ApiError. */
export async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('X-Requested-With', 'ideserver');
  const r = await fetch(path, { ...init, headers, credentials: 'same-origin' });
  if (!r.ok && r.status !== 304) {
    let code = `http_${r.status}`;
    let message = r.statusText || 'Request failed.';
    try {
      const body = await r.json();
      code = body.error.code;
      message = body.error.message;
    } catch {
      // not a JSON error body
    }
    throw new ApiError(r.status, code, message);
  }
  return r;
}

/** A JSON request and its decoded JSON answer (undefined for 204). */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  const r = await api(path, init);
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}

/** Exchanges a credential for a login (its cookie). */
export async function signIn(token: string): Promise<void> {
  await api('/auth/session', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
}

/** Opens a WebSocket on an API path with a fresh single-use ticket. */
export async function openSocket(path: string): Promise<WebSocket> {
  const { ticket } = await call<{ ticket: string }>('POST', '/api/v1/tickets', { path });
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}${path}?ticket=${encodeURIComponent(ticket)}`);
  ws.binaryType = 'arraybuffer';
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot connect to ${path}`)), { once: true });
  });
  return ws;
}

/** The API path of a workspace. */
export function workspaceAPI(workspaceID: string): string {
  return `/api/v1/workspaces/${encodeURIComponent(workspaceID)}`;
}

/**
 * The API path of a file or directory at a path under a root: the
 * workspace's own through its files endpoint, the read-only roots' through
 * theirs (…/goroot/…, …/gomodcache/…).
 */
export function fileAPI(workspaceID: string, path: string, root: Root = 'workspace'): string {
  return `${workspaceAPI(workspaceID)}/${root === 'workspace' ? 'files' : root}/${encodePath(path)}`;
}

export interface Workspace { id: string; name: string; state: string; created_at: string; updated_at: string }
export interface Entry { name: string; type: 'file' | 'dir' | 'symlink' | 'other'; size: number; mtime: string }
export interface TerminalInfo { id: string; cols: number; rows: number; created_at: string; exited?: boolean; exit_code?: number }
