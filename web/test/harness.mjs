// Shared set-up of the browser tests: builds and starts the real ideserver
// binary, launches Debian's Chromium, and serves static pages from other
// local origins (a portal, a hostile site).
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, extname } from 'node:path';
import { chromium } from 'playwright-core';

export const web = new URL('..', import.meta.url).pathname;
export const repo = join(web, '..');
export const artifacts = join(web, 'test-artifacts');

function goTool(name) {
  return execFileSync('go', ['tool', '-n', name], { cwd: join(repo, 'tools'), encoding: 'utf8' }).trim();
}

/**
 * Builds and starts ideserver with the token and extra environment;
 * returns { base, log(), stop() }.
 */
export async function startIDE(token, extraEnv = {}) {
  mkdirSync(artifacts, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'ideserver-web-'));
  // Searchable by others, so that as root the server isolates each tenant
  // under a uid of its own (isolation auto picks bwrap), as deployed.
  chmodSync(tmp, 0o711);
  const bin = join(tmp, 'ideserver');
  execFileSync('go', ['build', '-o', bin, './cmd/ideserver'], { cwd: repo, stdio: 'inherit' });
  const env = {
    PATH: process.env.PATH,
    HOME: join(tmp, 'home'),
    IDESERVER_GO_PROXY: 'off',
    IDESERVER_LSP_GOPLS_PATH: goTool('gopls'),
    IDESERVER_DAP_DLV_PATH: goTool('dlv'),
    ...extraEnv,
  };
  mkdirSync(env.HOME);
  const server = spawn(bin, ['--addr', '127.0.0.1:0', '--data', join(tmp, 'data'), '--token', token], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => { log += d; });
  const stop = async () => {
    if (server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const base = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no listening line in 60s:\n${out}\n${log}`)), 60_000);
      server.stdout.on('data', (d) => {
        out += d;
        const m = /^ideserver listening on (http:\/\/\S+)$/m.exec(out);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      server.on('exit', (code) => reject(new Error(`ideserver exited (${code}):\n${log}`)));
    });
    return { base, log: () => log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Launches headless Chromium. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript' };

/**
 * Serves static files on 127.0.0.1 at a free port: files maps a URL path to
 * a file path or a string. Returns { origin, close() }.
 */
export async function staticServer(files) {
  const srv = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const f = files[path];
    if (f === undefined) {
      res.writeHead(404).end();
      return;
    }
    const body = f.file ? readFileSync(f.file) : f;
    res.writeHead(200, { 'Content-Type': types[extname(f.file ?? path)] ?? 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(body);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${srv.address().port}`,
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
  };
}

/** Polls cond until it holds (at most 60 s). */
export async function assertEventually(cond, what) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}
