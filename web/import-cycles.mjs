// Fails (exit status 1) when modules of src/ import each other in a cycle,
// and prints each cycle. `npm test` runs it before the browser tests; with
// --graph it also prints every module and what it imports.
//
// The import graph is the TypeScript compiler's own (tsc --explainFiles
// says which file imports which): it has every kind of import, type-only
// imports and `typeof import('./x')` included. A bundler's graph would not
// do: esbuild drops type-only imports before it records them, so a module
// that only names another's types would hide a cycle.
import { execFileSync } from 'node:child_process';
import { join, relative, resolve } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const tsc = join(here, 'node_modules', 'typescript', 'bin', 'tsc');
const out = execFileSync(process.execPath, [tsc, '--noEmit', '--noCheck', '--explainFiles'], { cwd: here, encoding: 'utf8', maxBuffer: 64 << 20 });

// The output names each file on a line of its own, then why it is part of
// the program, one reason a line: "  Imported via './x' from file 'src/y.ts'".
const ours = (f) => {
  const r = relative(here, resolve(here, f));
  return r.startsWith('src/') ? r : null;
};
const graph = new Map(); // importer -> the modules it imports
let file = null;
let edges = 0;
for (const line of out.split('\n')) {
  if (line && !/^\s/.test(line)) {
    file = ours(line.trim());
    continue;
  }
  const m = /^\s+Imported via .* from file '([^']+)'/.exec(line);
  const from = m && ours(m[1]);
  if (!file || !from) continue;
  if (!graph.has(from)) graph.set(from, new Set());
  if (!graph.get(from).has(file)) edges++;
  graph.get(from).add(file);
}
if (process.argv.includes('--graph')) {
  for (const [from, to] of [...graph].sort(([a], [b]) => a.localeCompare(b))) console.log(`${from} → ${[...to].sort().join(', ')}`);
}
if (edges === 0) {
  console.error('import-cycles: tsc --explainFiles named no imports between the modules of src/; cannot check for cycles');
  process.exit(1);
}

// Tarjan's strongly connected components: a component of more than one
// module, or a module that imports itself, holds a cycle.
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
const connect = (v) => {
  index.set(v, index.size);
  low.set(v, index.get(v));
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!index.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), index.get(w)));
    }
  }
  if (low.get(v) !== index.get(v)) return;
  const c = [];
  let w;
  do {
    w = stack.pop();
    onStack.delete(w);
    c.push(w);
  } while (w !== v);
  if (c.length > 1 || graph.get(v)?.has(v)) components.push(c);
};
for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);

// One cycle through each component, found breadth-first from its first module.
const cycleIn = (c) => {
  const inside = new Set(c);
  const start = [...c].sort()[0];
  const prev = new Map();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]));
        return [...path, start];
      }
      if (inside.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return c;
};

if (components.length) {
  for (const c of components) console.error(`import cycle: ${cycleIn(c).join(' → ')}`);
  console.error('Modules must not import each other in a cycle (type-only and dynamic imports count): move what both need into a module both import, or pass a callback.');
  process.exit(1);
}
console.log(`import-cycles: no cycles among ${new Set([...graph.keys(), ...[...graph.values()].flatMap((s) => [...s])]).size} modules (${edges} imports)`);
