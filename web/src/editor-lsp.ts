// Editing helpers on top of @codemirror/lsp-client for Go tabs: format
// before save, Ctrl/Cmd-click go to definition, and a rename (F2) that also
// edits files without an open tab (it opens them in the background, so the
// edits land in tabs the user can review and save). lsp-client's own rename
// reads only `changes`, but gopls answers with `documentChanges`.
import { Prec, type Extension, type Text } from '@codemirror/state';
import { EditorView, getDialog, keymap, showDialog, type Command } from '@codemirror/view';
import { LSPPlugin, jumpToDefinition } from '@codemirror/lsp-client';
import type * as lsp from 'vscode-languageserver-protocol';
import { say } from './dom';

/** Opens the tab of a document URI without showing it, returning its editor (or null). */
export type QuietOpener = (uri: string) => Promise<EditorView | null>;

/** The document offset of an LSP position (UTF-16 characters), clamped to the document. */
export function offsetOf(doc: Text, pos: lsp.Position): number {
  if (pos.line >= doc.lines) return doc.length;
  const line = doc.line(pos.line + 1);
  return Math.min(line.from + pos.character, line.to);
}

/**
 * Asks gopls to format the editor's document and applies the edits. It
 * resolves to true when edits were applied, false when there was nothing to
 * do, no server, or no answer within timeoutMs; edits are dropped if the
 * document changed while waiting. It never rejects.
 */
export async function formatBeforeSave(view: EditorView, timeoutMs = 4000): Promise<boolean> {
  const plugin = LSPPlugin.get(view);
  const client = plugin?.client;
  if (!plugin || !client?.connected || !client.serverCapabilities?.documentFormattingProvider) return false;
  client.sync();
  const doc = view.state.doc;
  let timer = 0;
  try {
    const edits = await Promise.race([
      client.request<lsp.DocumentFormattingParams, lsp.TextEdit[] | null>('textDocument/formatting', {
        textDocument: { uri: plugin.uri },
        options: { tabSize: 4, insertSpaces: false },
      }),
      new Promise<null>((resolve) => { timer = window.setTimeout(() => resolve(null), timeoutMs); }),
    ]);
    if (!edits?.length || view.state.doc !== doc) return false;
    view.dispatch({
      changes: edits.map((e) => ({ from: offsetOf(doc, e.range.start), to: offsetOf(doc, e.range.end), insert: e.newText })),
      userEvent: 'format',
    });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Ctrl-click (Cmd-click on macOS) jumps to the definition under the pointer. */
const clickToDefinition = EditorView.domEventHandlers({
  mousedown(e, view) {
    if (e.button !== 0 || !(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return false;
    const pos = view.posAtCoords({ x: e.clientX, y: e.clientY });
    if (pos === null) return false;
    e.preventDefault();
    view.dispatch({ selection: { anchor: pos } });
    jumpToDefinition(view);
    return true;
  },
});

async function applyRename(view: EditorView, newName: string, openQuietly: QuietOpener): Promise<void> {
  const plugin = LSPPlugin.get(view);
  const word = view.state.wordAt(view.state.selection.main.head);
  if (!plugin || !word) return;
  const client = plugin.client;
  client.sync();
  const mapping = client.workspaceMapping();
  try {
    const edit = await client.request<lsp.RenameParams, lsp.WorkspaceEdit | null>('textDocument/rename', {
      textDocument: { uri: plugin.uri },
      position: plugin.toPosition(word.from),
      newName,
    });
    const { changes, skipped } = textEdits(edit);
    if (skipped) say(`Rename: ${skipped} file operations (create, rename, delete) were not applied.`);
    let files = 0;
    for (const [uri, edits] of changes) {
      if (!edits.length) continue;
      const open = mapping.getMapping(uri) !== null ? client.workspace.getFile(uri)?.getView() : null;
      if (open) {
        open.dispatch({
          changes: edits.map((e) => ({ from: mapping.mapPosition(uri, e.range.start, 1), to: mapping.mapPosition(uri, e.range.end, -1), insert: e.newText })),
          userEvent: 'rename',
        });
      } else {
        const target = await openQuietly(uri);
        if (!target) continue;
        const doc = target.state.doc;
        target.dispatch({
          changes: edits.map((e) => ({ from: offsetOf(doc, e.range.start), to: offsetOf(doc, e.range.end), insert: e.newText })),
          userEvent: 'rename',
        });
      }
      files++;
    }
    if (files > 1) say(`Renamed in ${files} files; save them to keep the change.`);
  } catch (e) {
    say(`Rename failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    mapping.destroy();
  }
}

/**
 * The text edits of a workspace edit by document URI, from its `changes` or
 * (as gopls always answers) its `documentChanges`; skipped counts the file
 * operations (create, rename, delete), which are not supported.
 */
export function textEdits(edit: lsp.WorkspaceEdit | null | undefined): { changes: Map<string, lsp.TextEdit[]>; skipped: number } {
  const changes = new Map<string, lsp.TextEdit[]>();
  let skipped = 0;
  for (const [uri, edits] of Object.entries(edit?.changes ?? {})) changes.set(uri, [...edits]);
  for (const dc of edit?.documentChanges ?? []) {
    if (!('textDocument' in dc)) {
      skipped++;
      continue;
    }
    const list = changes.get(dc.textDocument.uri) ?? [];
    for (const e of dc.edits) if ('newText' in e) list.push({ range: e.range, newText: e.newText });
    changes.set(dc.textDocument.uri, list);
  }
  return { changes, skipped };
}

function renameCommand(openQuietly: QuietOpener): Command {
  return (view) => {
    const plugin = LSPPlugin.get(view);
    const word = view.state.wordAt(view.state.selection.main.head);
    if (!plugin || !word || view.state.readOnly) return false;
    const current = view.state.sliceDoc(word.from, word.to);
    const open = getDialog(view, 'cm-lsp-rename-panel');
    if (open) {
      const input = open.dom.querySelector<HTMLInputElement>('[name=name]');
      if (input) { input.value = current; input.select(); }
      return true;
    }
    const { close, result } = showDialog(view, {
      label: 'New name',
      input: { name: 'name', value: current },
      focus: true,
      submitLabel: 'rename',
      class: 'cm-lsp-rename-panel',
    });
    void result.then((form) => {
      view.dispatch({ effects: close });
      const name = (form?.elements.namedItem('name') as HTMLInputElement | null)?.value.trim();
      if (name && name !== current) void applyRename(view, name, openQuietly);
    });
    return true;
  };
}

/**
 * The extra editor extensions of a Go tab that has the LSP plugin: F2
 * renames across files (overriding lsp-client's F2, which skips files
 * without a tab), Ctrl/Cmd-click goes to the definition, and Shift-F12
 * runs findReferences (overriding lsp-client's panel, which lists only
 * files with a tab).
 */
export function goEditing(openQuietly: QuietOpener, findReferences: Command): Extension {
  return [
    Prec.high(keymap.of([
      { key: 'F2', run: renameCommand(openQuietly), preventDefault: true },
      { key: 'Shift-F12', run: findReferences, preventDefault: true },
    ])),
    clickToDefinition,
  ];
}
