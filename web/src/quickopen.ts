// Quick open (Ctrl/Cmd-P): a filter box over the workspace's files, listed
// by walking the tree through the files API each time it opens. Arrow keys
// move, Enter opens, Escape closes. Paths are shown as text.
import type { Entry } from './api';
import { byId, el } from './dom';

/** The most files quick open lists; the walk stops there. */
export const maxQuickOpenFiles = 5000;
const shown = 50;
const skipDirs = new Set(['.git', 'node_modules']);

/**
 * Scores how well query matches path as a case-insensitive subsequence:
 * null when it does not match; higher is better (consecutive characters and
 * matches in the file name count more, shorter paths win ties).
 */
export function matchScore(query: string, path: string): number | null {
  const q = query.toLowerCase().replace(/\s+/g, '');
  if (!q) return 0;
  const p = path.toLowerCase();
  const base = p.lastIndexOf('/') + 1;
  let score = 0;
  let at = -1;
  let run = 0;
  for (const ch of q) {
    const i = p.indexOf(ch, at + 1);
    if (i < 0) return null;
    run = i === at + 1 ? run + 1 : 0;
    score += 1 + run * 2 + (i >= base ? 2 : 0) + (i === base ? 3 : 0);
    at = i;
  }
  return score * 100 - path.length;
}

/** Walks the workspace breadth-first and returns its file paths, at most limit of them. */
export async function listFiles(listDir: (dir: string) => Promise<Entry[]>, limit = maxQuickOpenFiles): Promise<string[]> {
  const files: string[] = [];
  const queue = [''];
  while (queue.length && files.length < limit) {
    const dir = queue.shift()!;
    let entries: Entry[];
    try {
      entries = await listDir(dir);
    } catch {
      continue; // removed meanwhile
    }
    for (const e of entries) {
      const path = dir ? `${dir}/${e.name}` : e.name;
      if (e.type === 'dir') {
        if (!skipDirs.has(e.name)) queue.push(path);
      } else if (e.type === 'file' || e.type === 'symlink') {
        files.push(path);
        if (files.length >= limit) break;
      }
    }
  }
  return files;
}

/**
 * Installs quick open in the workbench: Ctrl/Cmd-P (and the #quick-open
 * button) shows the #quickopen box; choosing a file calls open(path).
 */
export function installQuickOpen(listDir: (dir: string) => Promise<Entry[]>, open: (path: string) => Promise<unknown>): void {
  const box = byId('quickopen');
  const input = byId<HTMLInputElement>('qo-input');
  const list = byId('qo-list');
  let files: string[] = [];
  let matches: string[] = [];
  let current = 0;
  let back: HTMLElement | null = null;
  let walk = 0; // the latest listing wins

  const render = () => {
    const scored: { path: string; score: number }[] = [];
    for (const path of files) {
      const score = matchScore(input.value, path);
      if (score !== null) scored.push({ path, score });
    }
    scored.sort((a, b) => b.score - a.score || a.path.localeCompare(b.path));
    matches = scored.slice(0, shown).map((s) => s.path);
    current = Math.min(current, Math.max(matches.length - 1, 0));
    list.replaceChildren(...matches.map((path, i) => {
      const li = el('li', i === current ? 'current' : '');
      li.dataset.path = path;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(i === current));
      const slash = path.lastIndexOf('/');
      li.append(el('span', 'qo-name', path.slice(slash + 1)));
      if (slash > 0) li.append(el('span', 'qo-dir', path.slice(0, slash)));
      li.addEventListener('mousedown', (e) => { e.preventDefault(); choose(i); });
      return li;
    }));
    if (!matches.length) list.append(el('li', 'qo-none', files.length ? 'No matching files.' : 'Listing files…'));
    list.querySelector('.current')?.scrollIntoView({ block: 'nearest' });
  };

  const hide = (refocus: boolean) => {
    box.hidden = true;
    if (refocus) back?.focus();
  };

  const choose = (i: number) => {
    const path = matches[i];
    if (path === undefined) return;
    hide(false);
    void open(path);
  };

  const show = () => {
    back = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    box.hidden = false;
    input.value = '';
    current = 0;
    files = [];
    render();
    input.focus();
    const mine = ++walk;
    void listFiles(listDir).then((f) => {
      if (mine !== walk) return;
      files = f;
      render();
    });
  };

  input.addEventListener('input', () => { current = 0; render(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (matches.length) current = (current + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length;
      render();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      choose(current);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      hide(true);
    }
  });
  input.addEventListener('blur', () => hide(false));
  document.getElementById('quick-open')?.addEventListener('click', show);
  window.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'p') {
      e.preventDefault();
      e.stopPropagation();
      show();
    }
  }, { capture: true });
}
