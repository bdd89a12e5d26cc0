// The workspace's file tree in #tree: directory listings through the files
// API, expand/collapse, selection, and the + File, + Folder, Rename and
// Delete actions of the tree's tool bar. Tabs, saved state and live updates
// belong to the workbench, which the tree reaches through a TreeHost.
import { api, ApiError, call, fileAPI, workspaceAPI, type Entry } from './api';
import { byId, el, say } from './dom';
import { parentDir } from './paths';

/** What the tree asks of the workbench that owns it. */
export interface TreeHost {
  /** Opens the workspace file at path in a tab and shows it. */
  open(path: string): Promise<unknown>;
  /** Called when the set of expanded directories changed, to save the UI state. */
  persist(): void;
  /** Called after from was renamed to to on the server, before the tree is redrawn (to move tabs). */
  renamed(from: string, to: string): Promise<void>;
  /** Called after path (a file, or a directory and everything in it) was deleted on the server, before the tree is redrawn. */
  deleted(path: string): void;
}

/** Runs f, showing its error in the message bar instead of throwing. */
async function act(f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
  }
}

/**
 * The file tree of one workspace. Constructing it wires the tool bar
 * buttons (#new-file, #new-dir, #rename, #delete); the tree shows nothing
 * until the first refresh. Items are div.item.file / div.item.dir with
 * data-path (the workspace path) and role=treeitem, .open on expanded
 * directories and .selected on the selected item.
 */
export class FileTree {
  private dirs = new Map<string, Entry[]>(); // loaded listings by dir path ("" = root)
  private expanded = new Set<string>();
  private selected: { path: string; type: string } | null = null;

  constructor(readonly workspaceID: string, private readonly host: TreeHost) {
    byId('new-file').addEventListener('click', () => void act(() => this.newItem(false)));
    byId('new-dir').addEventListener('click', () => void act(() => this.newItem(true)));
    byId('rename').addEventListener('click', () => void act(() => this.renameSelected()));
    byId('delete').addEventListener('click', () => void act(() => this.deleteSelected()));
  }

  /** Marks saved directories as expanded (before the first refresh); ones that no longer exist are dropped then. */
  restore(expanded: readonly string[]): void {
    for (const d of expanded) this.expanded.add(d);
  }

  /** The expanded directories, for the saved UI state. */
  expandedDirs(): string[] {
    return [...this.expanded];
  }

  /** Lists a workspace directory ("" = root): directories first, then by name. */
  async list(dir: string): Promise<Entry[]> {
    const { entries } = await call<{ entries: Entry[] }>('GET', `${fileAPI(this.workspaceID, dir)}${dir ? '/' : ''}`);
    entries.sort((a, b) => (a.type === 'dir' ? 0 : 1) - (b.type === 'dir' ? 0 : 1) || a.name.localeCompare(b.name));
    return entries;
  }

  /** Reloads every loaded directory (and the expanded ones) and redraws the tree. */
  async refresh(): Promise<void> {
    const want = new Set(['', ...this.expanded]);
    const next = new Map<string, Entry[]>();
    for (const dir of want) {
      try {
        next.set(dir, await this.list(dir));
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 404) throw e;
        this.expanded.delete(dir);
      }
    }
    this.dirs = next;
    this.render();
  }

  private render(): void {
    const build = (dir: string): HTMLUListElement => {
      const ul = el('ul');
      for (const e of this.dirs.get(dir) ?? []) {
        const path = dir ? `${dir}/${e.name}` : e.name;
        const li = el('li');
        const item = el('div', `item ${e.type === 'dir' ? 'dir' : 'file'}`, e.name);
        item.dataset.path = path;
        item.setAttribute('role', 'treeitem');
        if (this.selected?.path === path) item.classList.add('selected');
        if (e.type === 'dir' && this.expanded.has(path)) item.classList.add('open');
        item.addEventListener('click', () => void act(() => this.clickItem(path, e.type)));
        li.append(item);
        if (e.type === 'dir' && this.expanded.has(path)) li.append(build(path));
        ul.append(li);
      }
      return ul;
    };
    byId('tree').replaceChildren(...build('').childNodes);
  }

  private async clickItem(path: string, type: string): Promise<void> {
    this.selected = { path, type };
    if (type === 'dir') {
      if (this.expanded.has(path)) this.expanded.delete(path);
      else this.expanded.add(path);
      this.host.persist();
      await this.refresh();
      return;
    }
    this.render();
    await this.host.open(path);
  }

  /** The directory new items go into: the selected directory, or the selected file's. */
  private targetDir(): string {
    const s = this.selected;
    if (!s) return '';
    return s.type === 'dir' ? s.path : parentDir(s.path);
  }

  private async newItem(dir: boolean): Promise<void> {
    const base = this.targetDir();
    const name = prompt(dir ? 'New folder name' : 'New file name', base ? `${base}/` : '');
    if (!name) return;
    if (dir) {
      await call('POST', `${workspaceAPI(this.workspaceID)}/fs/mkdir`, { path: name });
    } else {
      await api(fileAPI(this.workspaceID, name), { method: 'PUT', body: '' });
    }
    for (let p = parentDir(name); p; p = parentDir(p)) this.expanded.add(p);
    await this.refresh();
    if (!dir) await this.host.open(name);
  }

  private async renameSelected(): Promise<void> {
    const s = this.selected;
    if (!s) return say('Select a file or folder first.');
    const to = prompt(`Rename ${s.path} to`, s.path);
    if (!to || to === s.path) return;
    await call('POST', `${workspaceAPI(this.workspaceID)}/fs/rename`, { from: s.path, to });
    await this.host.renamed(s.path, to);
    this.selected = { path: to, type: s.type };
    await this.refresh();
  }

  private async deleteSelected(): Promise<void> {
    const s = this.selected;
    if (!s) return say('Select a file or folder first.');
    if (!confirm(`Delete ${s.path}${s.type === 'dir' ? ' and everything in it' : ''}?`)) return;
    await api(`${fileAPI(this.workspaceID, s.path)}${s.type === 'dir' ? '?recursive=true' : ''}`, { method: 'DELETE' });
    this.host.deleted(s.path);
    this.selected = null;
    await this.refresh();
  }
}
