// Editing helpers on top of @codemirror/lsp-client for Go tabs: format
// before save, Ctrl/Cmd-click go to definition, hover tooltips only while
// the pointer is over the editor, and a rename (F2) that also
// edits files without an open tab (it opens them in the background, so the
// edits land in tabs the user can review and save). lsp-client's own rename
// reads only `changes`, but gopls answers with `documentChanges`.
import { Prec, type Extension, type Text } from '@codemirror/state';
import { EditorView, ViewPlugin, closeHoverTooltips, getDialog, hasHoverTooltips, keymap, showDialog, type Command, type ViewUpdate } from '@codemirror/view';
import { LSPPlugin, jumpToDefinition, type LSPClient, type WorkspaceMapping } from '@codemirror/lsp-client';
import type * as lsp from 'vscode-languageserver-protocol';
import { say } from './dom';

/**
 * Opens the tab of a document URI without showing it, returning its editor
 * (or null); with create, it first creates the file, empty, if it is missing.
 */
export type QuietOpener = (uri: string, create?: boolean) => Promise<EditorView | null>;

/**
 * The message of a thrown value: an Error's, or a JSON-RPC error's (the
 * LSP client rejects requests with the server's { code, message } object).
 */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
  return String(e);
}

/** The document offset of an LSP position (UTF-16 characters), clamped to the document. */
export function offsetOf(doc: Text, pos: lsp.Position): number {
  if (pos.line >= doc.lines) return doc.length;
  const line = doc.line(pos.line + 1);
  return Math.min(line.from + pos.character, line.to);
}

/**
 * Applies the edits get asks gopls for, before a save: get receives the
 * editor's plugin and the document it must edit. It resolves to true when
 * edits were applied, false when there was nothing to do, no server (or
 * not the capability), or no answer within timeoutMs (which bounds the
 * whole exchange); edits are dropped if the document changed while
 * waiting. It never rejects.
 */
export async function editBeforeSave(
  view: EditorView,
  capable: (caps: lsp.ServerCapabilities) => unknown,
  get: (plugin: LSPPlugin, doc: Text) => Promise<lsp.TextEdit[] | null>,
  userEvent: string,
  timeoutMs = 4000,
): Promise<boolean> {
  const plugin = LSPPlugin.get(view);
  const client = plugin?.client;
  if (!plugin || !client?.connected || !client.serverCapabilities || !capable(client.serverCapabilities)) return false;
  client.sync();
  const doc = view.state.doc;
  let timer = 0;
  try {
    const edits = await Promise.race([
      get(plugin, doc),
      new Promise<null>((resolve) => { timer = window.setTimeout(() => resolve(null), timeoutMs); }),
    ]);
    if (!edits?.length || view.state.doc !== doc) return false;
    view.dispatch({
      changes: edits.map((e) => ({ from: offsetOf(doc, e.range.start), to: offsetOf(doc, e.range.end), insert: e.newText })),
      userEvent,
    });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Asks gopls to format the editor's document before a save (see editBeforeSave). */
export function formatBeforeSave(view: EditorView, timeoutMs = 4000): Promise<boolean> {
  return editBeforeSave(view, (caps) => caps.documentFormattingProvider, (plugin) =>
    plugin.client.request<lsp.DocumentFormattingParams, lsp.TextEdit[] | null>('textDocument/formatting', {
      textDocument: { uri: plugin.uri },
      options: { tabSize: 4, insertSpaces: false },
    }), 'format', timeoutMs);
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

/**
 * Closes a hover tooltip that shows up while the pointer is outside the
 * editor. CodeMirror's hover keeps waiting for a request sent while the
 * pointer rested on a word, and shows its answer where the pointer left: a
 * slow gopls would put a tooltip over code the user is about to click.
 */
const hoverFollowsPointer = ViewPlugin.fromClass(class {
  inside = false;
  constructor(readonly view: EditorView) {}
  update(u: ViewUpdate) {
    if (!this.inside && hasHoverTooltips(u.state) && !hasHoverTooltips(u.startState)) {
      // Not while the view updates; before it draws the tooltip.
      queueMicrotask(() => {
        if (!this.inside && hasHoverTooltips(this.view.state)) this.view.dispatch({ effects: closeHoverTooltips });
      });
    }
  }
}, {
  eventHandlers: {
    mousemove() { this.inside = true; },
    mouseleave() { this.inside = false; },
  },
});

/**
 * Applies the text edits of a workspace edit as unsaved changes: documents
 * with a tab through the mapping (whose start is the document the server
 * saw, so edits follow what the user typed since), others after opening
 * them quietly. Files it creates are created empty (an existing file is
 * kept) and opened before the edits. It resolves to the number of documents
 * changed and of file operations skipped (rename, delete); it rejects only
 * if opening or creating a document fails.
 */
export async function applyWorkspaceEdit(
  client: LSPClient, mapping: WorkspaceMapping, edit: lsp.WorkspaceEdit | null | undefined, openQuietly: QuietOpener, userEvent: string,
): Promise<{ files: number; skipped: number }> {
  const { changes, creates, skipped } = textEdits(edit);
  for (const uri of creates) {
    if (!(await openQuietly(uri, true))) throw new Error('Cannot create a file outside the workspace.');
  }
  let files = 0;
  for (const [uri, edits] of changes) {
    if (!edits.length) continue;
    const open = mapping.getMapping(uri) !== null ? client.workspace.getFile(uri)?.getView() : null;
    if (open) {
      open.dispatch({
        changes: edits.map((e) => ({ from: mapping.mapPosition(uri, e.range.start, 1), to: mapping.mapPosition(uri, e.range.end, -1), insert: e.newText })),
        userEvent,
      });
    } else {
      const target = await openQuietly(uri);
      if (!target) continue;
      const doc = target.state.doc;
      target.dispatch({
        changes: edits.map((e) => ({ from: offsetOf(doc, e.range.start), to: offsetOf(doc, e.range.end), insert: e.newText })),
        userEvent,
      });
    }
    files++;
  }
  return { files, skipped };
}

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
    const { files, skipped } = await applyWorkspaceEdit(client, mapping, edit, openQuietly, 'rename');
    if (skipped) say(`Rename: ${skipped} file operations (rename, delete) were not applied.`);
    if (files > 1) say(`Renamed in ${files} files; save them to keep the change.`);
  } catch (e) {
    say(`Rename failed: ${errorText(e)}`);
  } finally {
    mapping.destroy();
  }
}

/**
 * The text edits of a workspace edit by document URI, from its `changes` or
 * (as gopls always answers) its `documentChanges`; creates lists the URIs
 * of files it creates, skipped counts the other file operations (rename,
 * delete), which are not supported.
 */
export function textEdits(edit: lsp.WorkspaceEdit | null | undefined): { changes: Map<string, lsp.TextEdit[]>; creates: string[]; skipped: number } {
  const changes = new Map<string, lsp.TextEdit[]>();
  const creates: string[] = [];
  let skipped = 0;
  for (const [uri, edits] of Object.entries(edit?.changes ?? {})) changes.set(uri, [...edits]);
  for (const dc of edit?.documentChanges ?? []) {
    if (!('textDocument' in dc)) {
      if (dc.kind === 'create') creates.push(dc.uri);
      else skipped++;
      continue;
    }
    const list = changes.get(dc.textDocument.uri) ?? [];
    for (const e of dc.edits) if ('newText' in e) list.push({ range: e.range, newText: e.newText });
    changes.set(dc.textDocument.uri, list);
  }
  return { changes, creates, skipped };
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
 * without a tab), Ctrl/Cmd-click goes to the definition, Shift-F12
 * runs findReferences (overriding lsp-client's panel, which lists only
 * files with a tab), and a hover that answers after the pointer left the
 * editor is not shown.
 */
export function goEditing(openQuietly: QuietOpener, findReferences: Command): Extension {
  return [
    Prec.high(keymap.of([
      { key: 'F2', run: renameCommand(openQuietly), preventDefault: true },
      { key: 'Shift-F12', run: findReferences, preventDefault: true },
    ])),
    clickToDefinition,
    hoverFollowsPointer,
  ];
}
