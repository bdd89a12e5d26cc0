// The embedding API: under /embed/... the app runs chrome-less in an iframe
// of a portal and talks to it with postMessage. Messages are accepted only
// from the parent window and only from the page's own origin or one of the
// allowed origins that the server puts in <meta name="ideserver-origins">;
// every message out names its target origin explicitly (never "*").
//
// In:  {type:"open", path} opens a file; {type:"run"} runs the program.
// Out: {type:"ready", page}, {type:"opened", path}, {type:"saved", path},
//      {type:"output", kind:"stdout"|"stderr"|"end", body}, {type:"error", message}.
// Every message out carries source:"ideserver".

/** Whether the page runs in the chrome-less embedding mode. */
export const embedded = location.pathname.startsWith('/embed/');

/** The app path that an /embed/... path stands for. */
export function appPath(): string {
  return embedded ? location.pathname.slice('/embed'.length) : location.pathname;
}

const allowed = new Set<string>([
  location.origin,
  ...(document.querySelector<HTMLMetaElement>('meta[name="ideserver-origins"]')?.content ?? '').split(/\s+/).filter(Boolean),
]);

/** Whether messages from origin are accepted (and may be sent to it). */
export function originAllowed(origin: string): boolean {
  return origin !== 'null' && allowed.has(origin);
}

/** The parent's origin: ?origin= or the browser's ancestorOrigins, when allowed. */
function parentOrigin(): string | null {
  const asked = new URLSearchParams(location.search).get('origin');
  if (asked && originAllowed(asked)) return asked;
  const anc = (location as Location & { ancestorOrigins?: DOMStringList }).ancestorOrigins?.[0];
  return anc && originAllowed(anc) ? anc : null;
}

let target: string | null = null;

/** Posts an event to the embedding portal (nothing when not embedded or its origin is not allowed). */
export function post(msg: Record<string, unknown>): void {
  if (!embedded || window.parent === window || !target) return;
  window.parent.postMessage({ source: 'ideserver', ...msg }, target);
}

export interface EmbedHandlers {
  open?: (path: string) => Promise<void> | void;
  run?: () => Promise<void> | void;
}

/**
 * Starts listening for the portal's commands and posts "ready". ignored is
 * called with the origin of each refused message.
 */
export function startEmbed(page: string, h: EmbedHandlers, ignored: (origin: string) => void): void {
  if (!embedded) return;
  document.body.classList.add('embed');
  target = parentOrigin();
  window.addEventListener('message', (e: MessageEvent) => {
    if (e.source !== window.parent || !originAllowed(e.origin)) {
      ignored(e.origin);
      return;
    }
    target ??= e.origin;
    const m = e.data as { type?: unknown; path?: unknown };
    if (!m || typeof m !== 'object') return;
    const fail = (err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    try {
      if (m.type === 'run') {
        if (!h.run) return post({ type: 'error', message: 'run is not available on this page' });
        void Promise.resolve(h.run()).catch(fail);
      } else if (m.type === 'open' && typeof m.path === 'string') {
        if (!h.open) return post({ type: 'error', message: 'open is not available on this page' });
        const path = m.path;
        void Promise.resolve(h.open(path)).then(() => post({ type: 'opened', path }), fail);
      }
    } catch (err) {
      fail(err);
    }
  });
  post({ type: 'ready', page });
}
