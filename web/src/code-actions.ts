// Code actions for Go tabs: Ctrl/Cmd-. lists gopls's code actions for the
// selection (with the diagnostics there) in a small keyboard menu at the
// cursor, and applies the chosen one: its edit, its command (whose edits
// come back as workspace/applyEdit, handled in lsp.ts), or, when it has
// neither, what codeAction/resolve fills in. organizeImports runs the
// source.organizeImports action before a save.
import { Prec, type Extension } from '@codemirror/state';
import { EditorView, keymap, type Command } from '@codemirror/view';
import { forEachDiagnostic, type Diagnostic } from '@codemirror/lint';
import { LSPPlugin, type LSPClient, type WorkspaceMapping } from '@codemirror/lsp-client';
import type * as lsp from 'vscode-languageserver-protocol';
import { el, say } from './dom';
import { applyWorkspaceEdit, editBeforeSave, errorText, textEdits, type QuietOpener } from './editor-lsp';
import { publishedDiagnostics } from './lsp';

const severities: Record<Diagnostic['severity'], lsp.DiagnosticSeverity> = { error: 1, warning: 2, info: 3, hint: 4 };

/**
 * The LSP diagnostics of the editor that touch from..to, at their current
 * positions, with the source, code and data gopls sent (it matches the
 * diagnostics a code action request carries against its own by range,
 * message, severity and source).
 */
export function diagnosticsAt(view: EditorView, from: number, to: number): lsp.Diagnostic[] {
  const plugin = LSPPlugin.get(view);
  if (!plugin) return [];
  const sent = [...publishedDiagnostics(plugin.client, plugin.uri)];
  const out: lsp.Diagnostic[] = [];
  forEachDiagnostic(view.state, (d, dFrom, dTo) => {
    if (dFrom > to || dTo < from) return;
    const severity = severities[d.severity];
    const i = sent.findIndex((s) => s.message === d.message && (s.severity ?? 1) === severity);
    const orig = i >= 0 ? sent.splice(i, 1)[0] : { message: d.message, severity };
    out.push({ ...orig, range: { start: plugin.toPosition(dFrom), end: plugin.toPosition(dTo) } });
  });
  return out;
}

type Action = lsp.CodeAction | lsp.Command;

const isCommand = (a: Action): a is lsp.Command => typeof a.command === 'string';

/**
 * gopls commands that only open gopls's own web pages or an external URL,
 * which the server's proxy refuses (lsp.CommandAllowed): their actions are
 * not listed.
 */
const pageCommands = new Set(['gopls.assembly', 'gopls.doc', 'gopls.free_symbols', 'gopls.split_package', 'gopls.client_open_url']);

/** Whether the action can work here: not disabled and not one of pageCommands. */
function usable(a: Action): boolean {
  if (isCommand(a)) return !pageCommands.has(a.command);
  return !a.disabled && !(a.command && pageCommands.has(a.command.command));
}

function canResolve(client: LSPClient): boolean {
  const p = client.serverCapabilities?.codeActionProvider;
  return typeof p === 'object' && p !== null && p.resolveProvider === true;
}

/**
 * Applies a code action: resolves it first when it has neither edit nor
 * command, applies its edit (positions through mapping, which must start
 * at the document the server answered about), then runs its command.
 */
export async function applyCodeAction(client: LSPClient, mapping: WorkspaceMapping, action: Action, openQuietly: QuietOpener): Promise<void> {
  if (isCommand(action)) {
    await client.request<lsp.ExecuteCommandParams, unknown>('workspace/executeCommand', { command: action.command, arguments: action.arguments });
    return;
  }
  let a = action;
  if (!a.edit && !a.command && a.data !== undefined && canResolve(client)) {
    a = await client.request<lsp.CodeAction, lsp.CodeAction>('codeAction/resolve', a);
  }
  if (a.edit) {
    const { skipped } = await applyWorkspaceEdit(client, mapping, a.edit, openQuietly, 'codeaction');
    if (skipped) say(`${a.title}: ${skipped} file operations (rename, delete) were not applied.`);
  }
  if (a.command) {
    await client.request<lsp.ExecuteCommandParams, unknown>('workspace/executeCommand', { command: a.command.command, arguments: a.command.arguments });
  }
}

/**
 * Shows a menu of titles at the editor's cursor: arrow keys, Home and End
 * move, Enter or a click picks, Escape, Tab or leaving it closes it (and
 * the editor gets the focus back). It resolves to the picked index, or -1.
 */
function pickFrom(view: EditorView, titles: string[]): Promise<number> {
  return new Promise((resolve) => {
    const menu = el('ul', 'code-actions');
    menu.setAttribute('role', 'listbox');
    menu.setAttribute('aria-label', 'Code actions');
    menu.tabIndex = -1;
    let current = 0;
    const items = titles.map((t, i) => {
      const li = el('li', '', t);
      li.setAttribute('role', 'option');
      li.addEventListener('mousedown', (e) => { e.preventDefault(); done(i); });
      li.addEventListener('mousemove', () => move(i));
      return li;
    });
    const move = (i: number) => {
      current = (i + items.length) % items.length;
      items.forEach((li, j) => {
        li.classList.toggle('current', j === current);
        li.setAttribute('aria-selected', String(j === current));
      });
      items[current].scrollIntoView({ block: 'nearest' });
    };
    let closed = false;
    const done = (i: number) => {
      if (closed) return;
      closed = true;
      menu.remove();
      view.focus();
      resolve(i);
    };
    menu.append(...items);
    menu.addEventListener('keydown', (e) => {
      const keys: Record<string, () => void> = {
        ArrowDown: () => move(current + 1),
        ArrowUp: () => move(current - 1),
        Home: () => move(0),
        End: () => move(items.length - 1),
        Enter: () => done(current),
        Escape: () => done(-1),
        Tab: () => done(-1),
      };
      const k = keys[e.key];
      if (!k) return;
      e.preventDefault();
      e.stopPropagation();
      k();
    });
    menu.addEventListener('focusout', () => done(-1));
    const at = view.coordsAtPos(view.state.selection.main.head) ?? view.dom.getBoundingClientRect();
    menu.style.left = `${Math.max(0, Math.min(at.left, window.innerWidth - 320))}px`;
    menu.style.top = `${at.bottom + 2}px`;
    document.body.append(menu);
    move(0);
    menu.focus();
  });
}

async function showCodeActions(view: EditorView, openQuietly: QuietOpener): Promise<void> {
  const plugin = LSPPlugin.get(view);
  if (!plugin) return;
  const client = plugin.client;
  if (!client.connected || !client.serverCapabilities?.codeActionProvider) return say('Code actions are not available (gopls is not ready).');
  const { from, to } = view.state.selection.main;
  client.sync();
  const mapping = client.workspaceMapping();
  try {
    const actions = (await client.request<lsp.CodeActionParams, Action[] | null>('textDocument/codeAction', {
      textDocument: { uri: plugin.uri },
      range: { start: plugin.toPosition(from), end: plugin.toPosition(to) },
      context: { diagnostics: diagnosticsAt(view, from, to), triggerKind: 1 },
    }))?.filter(usable) ?? [];
    if (!actions.length) return say('No code actions here.');
    // Preferred fixes first, keeping gopls's order otherwise.
    actions.sort((a, b) => Number(!isCommand(b) && b.isPreferred === true) - Number(!isCommand(a) && a.isPreferred === true));
    const i = await pickFrom(view, actions.map((a) => a.title));
    if (i < 0) return;
    await applyCodeAction(client, mapping, actions[i], openQuietly);
  } catch (e) {
    say(`Code action failed: ${errorText(e)}`);
  } finally {
    mapping.destroy();
  }
}

/** The Ctrl/Cmd-. command: lists and applies the code actions at the selection. */
export function codeActionsCommand(openQuietly: QuietOpener): Command {
  return (view) => {
    if (!LSPPlugin.get(view) || view.state.readOnly) return false;
    void showCodeActions(view, openQuietly);
    return true;
  };
}

/** Ctrl/Cmd-. for code actions in a Go tab with the LSP plugin. */
export function codeActions(openQuietly: QuietOpener): Extension {
  return Prec.high(keymap.of([{ key: 'Mod-.', run: codeActionsCommand(openQuietly), preventDefault: true }]));
}

/**
 * Runs gopls's source.organizeImports action on the editor's document and
 * applies its edits to that document. It resolves to true when edits were
 * applied, false when there was nothing to do, no server, or no answer
 * within timeoutMs (which bounds the whole exchange); edits are dropped if
 * the document changed while waiting. It never rejects.
 */
export function organizeImports(view: EditorView, timeoutMs = 4000): Promise<boolean> {
  return editBeforeSave(view, (caps) => caps.codeActionProvider, async (plugin, doc) => {
    const { client, uri } = plugin;
    const actions = await client.request<lsp.CodeActionParams, Action[] | null>('textDocument/codeAction', {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: plugin.toPosition(doc.length, doc) },
      context: { diagnostics: [], only: ['source.organizeImports'], triggerKind: 2 },
    });
    let a = actions?.find((x): x is lsp.CodeAction => !isCommand(x) && x.kind === 'source.organizeImports' && !x.disabled);
    if (!a) return [];
    if (!a.edit && a.data !== undefined && canResolve(client)) a = await client.request<lsp.CodeAction, lsp.CodeAction>('codeAction/resolve', a);
    return textEdits(a.edit).changes.get(uri) ?? [];
  }, 'format', timeoutMs);
}
