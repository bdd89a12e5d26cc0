// The side bar shows one of: the file tree, the workspace search, or the
// results of find references. The workbench saves which one in its state.
import { byId } from './dom';

/** What the side bar shows. */
export type SideMode = 'tree' | 'search' | 'refs';

/** Switches the side bar (#side) between the tree and the #search-pane and #refs-pane panes. */
export class SideBar {
  private current: SideMode = 'tree';
  /** Called after the mode changed. */
  onChange: (mode: SideMode) => void = () => {};

  /** The mode shown. */
  get mode(): SideMode { return this.current; }

  /** Shows mode's pane (the tree for "tree"). */
  set(mode: SideMode): void {
    const side = byId('side');
    side.classList.toggle('searching', mode === 'search');
    side.classList.toggle('refs', mode === 'refs');
    byId('search-pane').hidden = mode !== 'search';
    byId('refs-pane').hidden = mode !== 'refs';
    if (mode === this.current) return;
    this.current = mode;
    this.onChange(mode);
  }
}
