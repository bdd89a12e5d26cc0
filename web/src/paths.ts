// Paths as the browser sees them, mapped in this one module. Every file the
// client names lies under a root: the workspace's files, or the read-only
// Go standard library and module cache. A file has three spellings:
//
//   workspace path  dir/main.go                   the files API, the tree, search
//   client path     /workspace/dir/main.go        Delve's DAP paths and programs
//   document URI    file:///workspace/dir/main.go gopls, the tabs, breakpoints
//
// (/goroot/src/fmt/print.go and file:///goroot/src/fmt/print.go likewise,
// read through the API's goroot endpoint). The server maps client paths to
// the paths its processes see; the browser never sees those.

/** The roots of client paths: the workspace's files, and the read-only standard library and module cache. */
export type Root = 'workspace' | 'goroot' | 'gomodcache';

const roots: readonly Root[] = ['workspace', 'goroot', 'gomodcache'];

/** A file under a root: the root, and the slash-separated path under it (not percent-encoded). */
export interface RootedPath { root: Root; path: string }

/** The client path of the workspace root (Delve's program when the whole workspace is debugged). */
export const workspaceRoot = '/workspace';

/** The document URI of the workspace root (the language server's root URI). */
export const workspaceRootURI = `file://${workspaceRoot}`;

const workspacePrefix = `${workspaceRootURI}/`;

/** Whether the files under a root are read-only (the standard library and the module cache are). */
export function isReadOnly(root: Root): boolean {
  return root !== 'workspace';
}

/** Percent-encodes each segment of a slash-separated path, for a URI or an API path. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The parent directory of a slash-separated path ("" when it has no slash: a workspace path at the root). */
export function parentDir(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** The last segment of a slash-separated path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The document URI of a file under a root. */
export function documentURI(p: RootedPath): string {
  return `file:///${p.root}/${encodePath(p.path)}`;
}

/** The root and path of a document URI under a root (file:///<root>/…), or null for any other URI. */
export function parseURI(uri: string): RootedPath | null {
  for (const root of roots) {
    const prefix = `file:///${root}/`;
    if (uri.startsWith(prefix)) return { root, path: decodeURIComponent(uri.slice(prefix.length)) };
  }
  return null;
}

/** The document URI of a workspace path. */
export function workspaceURI(path: string): string {
  return workspacePrefix + encodePath(path);
}

/** Whether a document URI names a file of the workspace (file:///workspace/…). */
export function isWorkspaceURI(uri: string): boolean {
  return uri.startsWith(workspacePrefix);
}

/** The workspace path of a document URI, or null outside the workspace. */
export function workspacePath(uri: string): string | null {
  return isWorkspaceURI(uri) ? decodeURIComponent(uri.slice(workspacePrefix.length)) : null;
}

/** The document URI of a client path (a DAP source path), or null outside the roots. */
export function clientPathURI(path: string | undefined): string | null {
  return path && roots.some((r) => path.startsWith(`/${r}/`)) ? `file://${encodePath(path)}` : null;
}

/** The client path (as DAP names it) of a document URI. */
export function uriClientPath(uri: string): string {
  return decodeURIComponent(uri.slice('file://'.length));
}

/** A short name of a client path for the user: workspace-relative, else the client path. */
export function shortPath(path: string): string {
  return path.startsWith(`${workspaceRoot}/`) ? path.slice(workspaceRoot.length + 1) : path;
}
