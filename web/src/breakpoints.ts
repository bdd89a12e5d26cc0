// The debug panel's parts of an editor: the breakpoint gutter (a set of
// markers mapped through edits) and the highlighted line of the selected
// stack frame.
import { RangeSet, StateEffect, StateField, type EditorState } from '@codemirror/state';
import { Decoration, EditorView, GutterMarker, type DecorationSet } from '@codemirror/view';
import { el } from './dom';

class BreakpointMarker extends GutterMarker {
  toDOM(): Node { return el('span', 'cm-bp-marker', '●'); }
}
/** The marker of a breakpoint. */
export const bpMarker = new BreakpointMarker();
/** The breakpoint gutter's width spacer. */
export class SpacerMarker extends GutterMarker {
  toDOM(): Node { return el('span', '', '●'); }
}
const toggleBP = StateEffect.define<number>({ map: (pos, m) => m.mapPos(pos) });
/** The breakpoints of a document: markers at line starts. */
export const bpField = StateField.define<RangeSet<GutterMarker>>({
  create: () => RangeSet.empty,
  update(set, tr) {
    set = set.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(toggleBP)) continue;
      let on = false;
      set.between(e.value, e.value, () => { on = true; });
      set = on ? set.update({ filter: (from) => from !== e.value }) : set.update({ add: [bpMarker.range(e.value)] });
    }
    return set;
  },
});

/** Breakpoint markers at 1-based lines (lines beyond the document are dropped). */
export function markers(state: EditorState, lines: readonly number[]): RangeSet<GutterMarker> {
  const ranges = lines.filter((l) => l >= 1 && l <= state.doc.lines).map((l) => bpMarker.range(state.doc.line(l).from));
  return RangeSet.of(ranges, true);
}

/** The sorted, distinct 1-based lines of a state's breakpoints. */
export function bpLines(state: EditorState): number[] {
  const lines = new Set<number>();
  const it = state.field(bpField).iter();
  for (; it.value; it.next()) lines.add(state.doc.lineAt(it.from).number);
  return [...lines].sort((a, b) => a - b);
}

/** Toggles the breakpoint of the line at pos. */
export function toggleAt(view: EditorView, pos: number): boolean {
  view.dispatch({ effects: toggleBP.of(view.state.doc.lineAt(pos).from) });
  return true;
}

/** A highlighted line: the selected frame's (top: the line about to run). */
export interface Loc { uri: string; line: number; top: boolean }
/** Moves (or, with null, removes) the highlighted line. */
export const setLoc = StateEffect.define<Loc | null>();
const topLine = Decoration.line({ class: 'cm-debug-line' });
const frameLine = Decoration.line({ class: 'cm-debug-frame' });

/** The decoration of the highlighted line, when loc is in this document. */
export function locDeco(state: EditorState, loc: Loc | null): DecorationSet {
  if (!loc || loc.line < 1 || loc.line > state.doc.lines) return Decoration.none;
  return Decoration.set([(loc.top ? topLine : frameLine).range(state.doc.line(loc.line).from)]);
}
