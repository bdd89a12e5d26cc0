// Find references (Shift-F12), loaded on first use: asks gopls for
// textDocument/references over the editor's LSP connection and lists the
// results in the side bar like the search panel (file, line number and the
// line's text, as text), including files that have no tab: their text is
// fetched through the files API. Clicking a result opens the file there.
import type { EditorView } from '@codemirror/view';
import { LSPPlugin } from '@codemirror/lsp-client';
import type * as lsp from 'vscode-languageserver-protocol';
import { byId, el } from './dom';
import { errorText } from './editor-lsp';
import type { SideBar } from './side';

/** What find references needs from the workbench. */
export interface RefHost {
  /** The side bar that shows the results. */
  side: SideBar;
  /** The text of a document URI (its tab's, else fetched), or null when it cannot be read. */
  text(uri: string): Promise<string | null>;
  /** A short name of a document URI for the user (workspace-relative path, or the root and path). */
  label(uri: string): string;
  /** Opens the document at an LSP position (line and UTF-16 character, from 0). */
  reveal(uri: string, pos: lsp.Position): Promise<void>;
}

/** The most results listed. */
export const maxReferences = 1000;

let seq = 0; // the latest search wins

/**
 * Finds the references of the symbol at the cursor of view (declaration
 * included) and shows them in #refs-pane. It resolves when they are shown
 * and never rejects: failures are shown in the pane.
 */
export async function findReferences(view: EditorView, host: RefHost): Promise<void> {
  const plugin = LSPPlugin.get(view);
  if (!plugin) return;
  const mine = ++seq;
  const info = byId('refs-info');
  const results = byId('refs-results');
  const head = view.state.selection.main.head;
  const word = view.state.wordAt(head);
  const name = word ? view.state.sliceDoc(word.from, word.to) : '';
  byId('refs-title').textContent = name ? `References to ${name}` : 'References';
  info.textContent = 'Finding references…';
  results.replaceChildren();
  host.side.set('refs');
  let locs: lsp.Location[];
  try {
    const client = plugin.client;
    client.sync();
    locs = (await client.request<lsp.ReferenceParams, lsp.Location[] | null>('textDocument/references', {
      textDocument: { uri: plugin.uri },
      position: plugin.toPosition(head),
      context: { includeDeclaration: true },
    })) ?? [];
  } catch (e) {
    if (mine === seq) info.textContent = `Finding references failed: ${errorText(e)}`;
    return;
  }
  if (mine !== seq) return;
  const truncated = locs.length > maxReferences;
  locs = [...locs]
    .sort((a, b) => a.uri.localeCompare(b.uri) || a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character)
    .slice(0, maxReferences);
  const uris = [...new Set(locs.map((l) => l.uri))];
  const texts = new Map<string, string[] | null>();
  await Promise.all(uris.map(async (u) => {
    const t = await host.text(u).catch(() => null);
    texts.set(u, t === null ? null : t.split('\n'));
  }));
  if (mine !== seq) return;
  const out: HTMLElement[] = [];
  let cur = '';
  for (const l of locs) {
    if (l.uri !== cur) {
      cur = l.uri;
      const h = el('div', 'search-file', host.label(l.uri));
      h.title = host.label(l.uri);
      out.push(h);
    }
    const line = texts.get(l.uri)?.[l.range.start.line] ?? '';
    const row = el('div', 'search-match');
    row.dataset.uri = l.uri;
    row.dataset.line = String(l.range.start.line + 1);
    row.title = `${host.label(l.uri)}:${l.range.start.line + 1}:${l.range.start.character + 1}`;
    row.append(el('span', 'search-line', String(l.range.start.line + 1)));
    const start = Math.min(l.range.start.character, line.length);
    const end = l.range.end.line === l.range.start.line ? Math.min(Math.max(l.range.end.character, start), line.length) : line.length;
    const from = Math.max(start - 40, 0);
    row.append(document.createTextNode((from > 0 ? '…' : '') + line.slice(from, start).trimStart()));
    row.append(el('strong', '', line.slice(start, end)));
    row.append(document.createTextNode(line.slice(end, end + 120)));
    row.addEventListener('click', () => void host.reveal(l.uri, l.range.start));
    out.push(row);
  }
  results.replaceChildren(...out);
  info.textContent = locs.length
    ? `${locs.length}${truncated ? '+' : ''} reference${locs.length === 1 ? '' : 's'} in ${uris.length} file${uris.length === 1 ? '' : 's'}`
    : 'No references.';
}
