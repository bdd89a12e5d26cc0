// The pages outside the workbench: a share's read-only page (/s/{id}),
// the playground (/play, and /p/{id} with a shared snippet loaded), each
// with Run (streamed over /play/ws; on fake time unless "Real time" is
// checked), Kill and, for shares, Fork; the
// playground also formats (POST /fmt), shares (POST /share) and offers
// the examples of examples.ts. User
// content is shown as text only: in CodeMirror documents and text nodes.
import { basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { go } from '@codemirror/lang-go';
import { api, ApiError, call, type Workspace } from './api';
import { byId, el } from './dom';
import { embedded, post, startEmbed } from './embed';
import { Runner } from './run';
import { examples } from './examples';

const hello = `package main

import "fmt"

func main() {
	fmt.Println("Hello, ideserver!")
}
`;

let messageTimer = 0;

/** Shows a short message in the page's bar. */
function say(text: string): void {
  const m = byId('page-message');
  m.textContent = text;
  clearTimeout(messageTimer);
  messageTimer = window.setTimeout(() => { m.textContent = ''; }, 8000);
}

interface File { name: string; view: EditorView; tab: HTMLElement }

/** The file tabs and editors of a page. */
class Files {
  readonly files: File[] = [];

  add(name: string, text: string, readOnly: boolean, run: () => void): File {
    const box = el('div', 'editor');
    box.dataset.file = name;
    const view = new EditorView({
      parent: box,
      state: EditorState.create({
        doc: text,
        extensions: [
          keymap.of([{ key: 'Mod-Enter', preventDefault: true, run: () => { run(); return true; } }]),
          basicSetup,
          ...(name.endsWith('.go') ? [go()] : []),
          EditorState.readOnly.of(readOnly),
          EditorView.editable.of(!readOnly),
        ],
      }),
    });
    const tab = el('div', 'tab', name);
    tab.dataset.file = name;
    tab.setAttribute('role', 'tab');
    const f = { name, view, tab };
    tab.addEventListener('click', () => this.show(name));
    this.files.push(f);
    byId('page-tabs').append(tab);
    byId('page-editors').append(box);
    return f;
  }

  show(name: string): void {
    const f = this.files.find((x) => x.name === name);
    if (!f) throw new Error(`no file ${name}`);
    for (const o of this.files) {
      o.tab.classList.toggle('active', o === f);
      (o.view.dom.parentElement as HTMLElement).hidden = o !== f;
    }
    f.view.requestMeasure();
  }

  /** The program to run: a lone file as source, several as txtar. */
  body(): string {
    if (this.files.length === 1) return this.files[0].view.state.doc.toString();
    return this.files.map((f) => {
      const t = f.view.state.doc.toString();
      return `-- ${f.name} --\n${t}${t.endsWith('\n') ? '' : '\n'}`;
    }).join('');
  }
}

/** Sets up the bar, Run and Kill, and the embedding API for a page. */
function setup(title: string, files: Files, page: string): Runner {
  document.title = `${title} — ideserver`;
  byId('page-title').textContent = title;
  byId('status').hidden = true;
  byId('page').hidden = false;
  const runBtn = byId<HTMLButtonElement>('run');
  const killBtn = byId<HTMLButtonElement>('kill');
  const runner = new Runner(byId('output'), (running) => { killBtn.disabled = !running; }, (kind, body) => post({ type: 'output', kind, body }));
  const run = async () => {
    try {
      await runner.run(files.body(), byId<HTMLInputElement>('real-time').checked);
    } catch (e) {
      say(e instanceof Error ? e.message : String(e));
    }
  };
  runBtn.addEventListener('click', () => void run());
  killBtn.addEventListener('click', () => runner.kill());
  startEmbed(page, { run, open: (path) => files.show(path) }, (origin) => say(`Ignored a message from ${origin}.`));
  return runner;
}

/** /s/{id}: a share's snapshot, read-only, with Run and Fork. */
export async function openShare(id: string): Promise<void> {
  let sh: { id: string; name: string; files: Record<string, string> };
  try {
    sh = await call('GET', `/api/v1/shares/${encodeURIComponent(id)}`);
  } catch (e) {
    byId('status').textContent = e instanceof ApiError && e.status === 404 ? 'No such share: it may have expired or been revoked.' : `Cannot load the share: ${(e as Error).message}`;
    return;
  }
  const files = new Files();
  const names = Object.keys(sh.files).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const n of names) files.add(n, sh.files[n], true, () => byId('run').click());
  setup(`${sh.name || 'Shared snapshot'} (read-only)`, files, 'share');
  if (names.length) files.show(names.includes('main.go') ? 'main.go' : names[0]);
  else byId('page-editors').append(el('p', 'empty', 'This snapshot has no files.'));
  const fork = byId<HTMLButtonElement>('fork');
  fork.hidden = embedded;
  fork.addEventListener('click', async () => {
    try {
      await call('GET', '/api/v1/me');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        say('Sign in to fork: open the URL that ideserver printed when it started (or ask for a token), then come back to this link.');
        return;
      }
      say((e as Error).message);
      return;
    }
    try {
      const w = await call<Workspace>('POST', `/api/v1/shares/${encodeURIComponent(id)}/fork`);
      location.href = `/?ws=${encodeURIComponent(w.id)}`;
    } catch (e) {
      say(`Cannot fork: ${(e as Error).message}`);
    }
  });
}

/** Sorts go.mod after the Go files, other files last. */
function rank(name: string): number {
  if (name === 'main.go') return 0;
  if (name.endsWith('.go')) return 1;
  if (name === 'go.mod') return 2;
  return 3;
}

/** /play and /p/{id}: the playground, with the snippet id loaded when given. */
export async function openPlay(snippet: string | null): Promise<void> {
  let text = hello;
  if (snippet) {
    try {
      text = await (await api(`/p/${encodeURIComponent(snippet)}.go`)).text();
    } catch (e) {
      byId('status').textContent = e instanceof ApiError && e.status === 404 ? 'No such snippet.' : `Cannot load the snippet: ${(e as Error).message}`;
      return;
    }
  }
  const files = new Files();
  const f = files.add('prog.go', text, false, () => byId('run').click());
  setup(snippet ? `Snippet ${snippet}` : 'Playground', files, 'play');
  files.show('prog.go');
  byId('page-tabs').hidden = true;
  const fmt = byId<HTMLButtonElement>('fmt');
  const share = byId<HTMLButtonElement>('share-snippet');
  fmt.hidden = false;
  share.hidden = false;
  const menu = byId<HTMLSelectElement>('examples');
  menu.append(...examples.map((x, i) => { const o = el('option', '', x.title); o.value = String(i); return o; }));
  menu.hidden = false;
  menu.addEventListener('change', () => {
    const x = examples[Number(menu.value)];
    menu.value = '';
    if (!x) return;
    f.view.dispatch({ changes: { from: 0, to: f.view.state.doc.length, insert: x.body } });
    byId('output').replaceChildren();
    say(`Example: ${x.title}.`);
  });
  fmt.addEventListener('click', async () => {
    try {
      const form = new URLSearchParams({ body: f.view.state.doc.toString(), imports: 'true' });
      const r = await (await api('/fmt', { method: 'POST', body: form })).json() as { Body: string; Error: string };
      if (r.Error) {
        byId('output').replaceChildren(el('span', 'stderr', r.Error));
        return;
      }
      if (r.Body !== f.view.state.doc.toString()) f.view.dispatch({ changes: { from: 0, to: f.view.state.doc.length, insert: r.Body } });
      say('Formatted.');
    } catch (e) {
      say(`Cannot format: ${(e as Error).message}`);
    }
  });
  share.addEventListener('click', async () => {
    try {
      const id = (await (await api('/share', { method: 'POST', body: f.view.state.doc.toString() })).text()).trim();
      const url = `${location.origin}/p/${id}`;
      const input = byId<HTMLInputElement>('snippet-url');
      input.value = url;
      input.hidden = false;
      input.select();
      if (!embedded) history.replaceState(null, '', `/p/${id}`);
      await navigator.clipboard?.writeText(url).then(() => say('Link copied.'), () => say('Link created.'));
    } catch (e) {
      say(`Cannot share: ${(e as Error).message}`);
    }
  });
}
