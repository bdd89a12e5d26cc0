// The workspace search panel (Ctrl/Cmd-Shift-F): text or RE2 search through
// the workspace's search endpoint, results grouped by file and shown as
// text; clicking a result opens the file at the match.
import type { EditorView } from '@codemirror/view';
import { call, workspaceAPI } from './api';
import { byId, el } from './dom';
import type { SideBar } from './side';

/** One search result of GET …/search: line and column count from 1, column in characters. */
export interface SearchMatch { path: string; line: number; column: number; text: string }

const maxResults = 500;

/** Puts the cursor of view at a 1-based line and character column and scrolls it into view. */
export function revealAt(view: EditorView, line: number, column: number): void {
  const doc = view.state.doc;
  const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
  const chars = [...l.text].slice(0, Math.max(column - 1, 0)).join('').length; // code points to UTF-16
  const pos = l.from + chars;
  view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
  view.focus();
}

/**
 * Installs the search panel in the side bar: Ctrl/Cmd-Shift-F (or the
 * #search-open button) shows #search-pane instead of the file tree;
 * choosing a result calls open(path, line, column).
 */
export function installSearch(workspaceID: string, open: (path: string, line: number, column: number) => Promise<void>, side: SideBar): void {
  const input = byId<HTMLInputElement>('search-q');
  const regex = byId<HTMLInputElement>('search-regex');
  const matchCase = byId<HTMLInputElement>('search-case');
  const info = byId('search-info');
  const results = byId('search-results');
  let seq = 0;
  let timer = 0;

  const run = async () => {
    const q = input.value;
    const mine = ++seq;
    if (!q) {
      info.textContent = '';
      results.replaceChildren();
      return;
    }
    info.textContent = 'Searching…';
    const params = new URLSearchParams({ q, regex: String(regex.checked), case: String(matchCase.checked), max: String(maxResults) });
    let res: { matches: SearchMatch[]; truncated: boolean };
    try {
      res = await call<{ matches: SearchMatch[]; truncated: boolean }>('GET', `${workspaceAPI(workspaceID)}/search?${params}`);
    } catch (e) {
      if (mine !== seq) return;
      info.textContent = e instanceof Error ? e.message : String(e);
      results.replaceChildren();
      return;
    }
    if (mine !== seq) return;
    const files = new Set(res.matches.map((m) => m.path)).size;
    info.textContent = res.matches.length
      ? `${res.matches.length}${res.truncated ? '+' : ''} results in ${files} file${files === 1 ? '' : 's'}`
      : 'No results.';
    render(res.matches, regex.checked ? 0 : [...q].length);
  };

  const render = (matches: SearchMatch[], qlen: number) => {
    const out: HTMLElement[] = [];
    let path = '';
    for (const m of matches) {
      if (m.path !== path) {
        path = m.path;
        const h = el('div', 'search-file', m.path);
        h.title = m.path;
        out.push(h);
      }
      const row = el('div', 'search-match');
      row.dataset.path = m.path;
      row.dataset.line = String(m.line);
      row.title = `${m.path}:${m.line}:${m.column}`;
      row.append(el('span', 'search-line', `${m.line}`));
      const chars = [...m.text];
      const start = Math.max(m.column - 1, 0);
      const from = Math.max(start - 40, 0);
      const before = chars.slice(from, start).join('');
      row.append(document.createTextNode((from > 0 ? '…' : '') + before.trimStart()));
      if (qlen) {
        row.append(el('strong', '', chars.slice(start, start + qlen).join('')));
        row.append(document.createTextNode(chars.slice(start + qlen, start + qlen + 120).join('')));
      } else {
        row.append(document.createTextNode(chars.slice(start, start + 120).join('')));
      }
      row.addEventListener('click', () => void open(m.path, m.line, m.column));
      out.push(row);
    }
    results.replaceChildren(...out);
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => void run(), 250);
  };

  const show = () => {
    side.set('search');
    const sel = window.getSelection()?.toString() ?? '';
    if (sel && !sel.includes('\n') && sel.length < 200) {
      input.value = sel;
      schedule();
    }
    input.focus();
    input.select();
  };

  const hide = () => side.set('tree');

  input.addEventListener('input', schedule);
  regex.addEventListener('change', schedule);
  matchCase.addEventListener('change', schedule);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); clearTimeout(timer); void run(); }
    if (e.key === 'Escape') { e.preventDefault(); hide(); }
  });
  byId('search-close').addEventListener('click', hide);
  document.getElementById('search-open')?.addEventListener('click', show);
  window.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.shiftKey && !e.altKey && e.key.toLowerCase() === 'f') {
      e.preventDefault();
      e.stopPropagation();
      show();
    }
  }, { capture: true });
}
