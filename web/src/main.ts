// Entry point of the browser IDE: signs in with the credential of the
// start-up URL (in the fragment, so it never reaches a server log), removes
// it from the address bar, then shows the workspace list or, with ?ws=ID,
// the workbench of that workspace. The workbench and the editor are in the
// first bundle; the share and playground pages load their own module.
import './style.css';
import { ApiError, call, signIn, type Workspace } from './api';
import { byId, el } from './dom';
import { appPath, embedded } from './embed';
import { openWorkbench } from './workbench';

async function home(user: string): Promise<void> {
  byId('who').textContent = user;
  byId('status').hidden = true;
  byId('home').hidden = false;
  const list = byId('workspaces');
  const refresh = async () => {
    const { workspaces } = await call<{ workspaces: Workspace[] }>('GET', '/api/v1/workspaces');
    list.replaceChildren(...workspaces.map((w) => {
      const li = el('li');
      const a = el('a', '', w.name || w.id);
      a.href = `/?ws=${encodeURIComponent(w.id)}`;
      li.append(a, el('span', 'ws-state', w.state));
      return li;
    }));
    if (!workspaces.length) list.append(el('li', 'empty', 'No workspaces yet.'));
  };
  byId('create').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>('ws-name');
    try {
      const w = await call<Workspace>('POST', '/api/v1/workspaces', { name: input.value, template: 'hello' });
      location.href = `/?ws=${encodeURIComponent(w.id)}`;
    } catch (err) {
      alert(err instanceof Error ? err.message : String(err));
    }
  });
  await refresh();
}

async function main(): Promise<void> {
  const status = byId('status');
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token) {
    history.replaceState(null, '', location.pathname + location.search);
    try {
      await signIn(token);
    } catch {
      status.textContent = "The link's credential was refused; ask for a new one.";
      return;
    }
  }
  // The public pages: a share, a snippet, the playground.
  const path = appPath();
  let m = /^\/s\/([^/]+)$/.exec(path);
  if (m) return (await import('./pages')).openShare(decodeURIComponent(m[1]));
  m = /^\/p\/([^/]+)$/.exec(path);
  if (m) return (await import('./pages')).openPlay(decodeURIComponent(m[1]));
  if (path === '/play') return (await import('./pages')).openPlay(null);
  const embedWorkspace = /^\/ws\/([^/]+)$/.exec(path);
  if (embedded && !embedWorkspace) {
    status.textContent = 'Nothing to embed here: use /embed/play, /embed/p/ID, /embed/s/ID or /embed/ws/ID.';
    return;
  }
  let me: { user: string };
  try {
    me = await call<{ user: string }>('GET', '/api/v1/me');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      status.textContent = 'Not signed in: open the URL that ideserver printed when it started.';
      return;
    }
    throw e;
  }
  const workspaceID = embedWorkspace ? decodeURIComponent(embedWorkspace[1]) : new URLSearchParams(location.search).get('ws');
  if (workspaceID) {
    try {
      await openWorkbench(workspaceID);
    } catch (e) {
      status.textContent = e instanceof ApiError && e.status === 404 ? 'No such workspace.' : `Cannot open the workspace: ${(e as Error).message}`;
      status.append(' ', Object.assign(el('a', '', 'All workspaces'), { href: '/' }));
    }
    return;
  }
  await home(me.user);
}

main().catch((e) => { byId('status').textContent = `Error: ${e instanceof Error ? e.message : String(e)}`; });
