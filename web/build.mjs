// Builds the browser IDE into dist/: dist/index.html, dist/assets/index.js
// (the entry: the workbench and the editor) and index.css, and the chunks
// loaded on first use (xterm.js and the terminal pane, the debug session,
// find references, the share and playground pages), named
// dist/assets/<name>-<content hash>.js so that the server may let browsers
// cache them for good. The output is deterministic (no source maps, no
// timestamps; hashes depend only on the content) so that a fresh build can
// be compared with the committed one. index.html gets a modulepreload link
// for each chunk that index.js imports statically, so that the browser
// fetches them together with index.js instead of after it.
import * as esbuild from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';

const here = new URL('.', import.meta.url).pathname;
process.chdir(here);
await rm('dist', { recursive: true, force: true });
await mkdir('dist/assets', { recursive: true });
const result = await esbuild.build({
  entryPoints: { index: 'src/main.ts' },
  bundle: true,
  splitting: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outdir: 'dist/assets',
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
  metafile: true,
  loader: { '.txt': 'text' }, // the playground's examples
});

// The chunks index.js needs before it runs, in a stable order.
const outputs = result.metafile.outputs;
const needed = new Set();
const visit = (file) => {
  for (const imp of outputs[file]?.imports ?? []) {
    if (imp.kind !== 'import-statement' || needed.has(imp.path)) continue;
    needed.add(imp.path);
    visit(imp.path);
  }
};
visit('dist/assets/index.js');
const preload = [...needed].sort().map((f) => `<link rel="modulepreload" href="/${f.slice('dist/'.length)}">\n`).join('');
const entry = '<script type="module" src="/assets/index.js"></script>';
const page = await readFile('src/index.html', 'utf8');
if (!page.includes(entry)) throw new Error(`src/index.html lacks ${entry}`);
await writeFile('dist/index.html', page.replace(entry, preload + entry));
