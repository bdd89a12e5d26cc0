// Builds the browser IDE into dist/: dist/index.html and dist/assets/index.{js,css}.
// The output is deterministic (no source maps, no timestamps) so that a fresh
// build can be compared with the committed one.
import * as esbuild from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';

const here = new URL('.', import.meta.url).pathname;
process.chdir(here);
await rm('dist', { recursive: true, force: true });
await mkdir('dist/assets', { recursive: true });
await esbuild.build({
  entryPoints: { index: 'src/main.ts' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outdir: 'dist/assets',
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
});
await copyFile('src/index.html', 'dist/index.html');
