// Shared set-up of the browser tests: builds and starts the real ideserver
// binary, launches Debian's Chromium, serves static pages from other local
// origins (a portal, a hostile site), and holds the helpers the tests share
// (a page per test, workspaces and files through the API, editor queries).
import { before, after } from 'node:test';
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
    // A uid claim of its own: test servers run side by side with the
    // default uid range, which the host-wide claim would refuse.
    IDESERVER_ISOLATION_UID_LOCK_DIR: join(tmp, 'run'),
    // The playground's shared build cache holds what the tests' programs
    // import, not the whole standard library.
    IDESERVER_PLAYGROUND_CACHE_PACKAGES: 'fmt',
    // No users' shared build cache per test server: each would build
    // fmt in every flag set beside the browser.
    IDESERVER_GO_PREBUILD: 'false',
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

/**
 * Registers node:test before/after hooks that start the IDE (startIDE with
 * token and extraEnv) and the browser, then close the browser and stop the
 * IDE; the getters ide and browser of the returned object hold them once
 * before has run. extraEnv is an object or an async function that the
 * before hook awaits first (the place for other set-up the environment
 * needs: node:test may run a file's before hooks concurrently).
 */
export function useIDE(token, extraEnv = {}) {
  let ide, browser;
  before(async () => {
    ide = await startIDE(token, typeof extraEnv === 'function' ? await extraEnv() : extraEnv);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await ide?.stop();
  });
  return {
    get ide() { return ide; },
    get browser() { return browser; },
  };
}

/**
 * Runs body(page, context) in a fresh 1280x800 context of browser and
 * asserts no page error happened; on failure saves
 * `${artifactName}-failure.png` and throws with the tail of ide's log. The
 * context is always closed.
 */
export async function withPage(browser, ide, artifactName, body) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await body(page, context);
    assert.deepEqual(errors, []);
  } catch (e) {
    await page.screenshot({ path: join(artifacts, `${artifactName}-failure.png`) }).catch(() => {});
    throw new Error(`${e.message}\nserver log tail:\n${ide.log().slice(-3000)}`, { cause: e });
  } finally {
    await context.close();
  }
}

/** Signs page in at base with the start-up URL's token and waits for the home page. */
export async function signIn(page, base, token) {
  await page.goto(`${base}/#token=${token}`);
  await page.locator('#home').waitFor({ state: 'visible' });
}

/** Creates a workspace named name with the home page's form and waits for its workbench. */
export async function createFromHome(page, name) {
  await page.fill('#ws-name', name);
  await page.click('#create button[type=submit]');
  await page.locator('#wb').waitFor({ state: 'visible' });
}

/**
 * Creates a workspace named name from the hello template through the API
 * from a signed-in page, then PUTs files (a map of path to content) into
 * it; throws on a failed request. Returns the workspace's id.
 */
export function createWorkspace(page, name, files = {}) {
  return page.evaluate(async ({ name, files }) => {
    const h = { 'X-Requested-With': 'ideserver' };
    const r = await fetch('/api/v1/workspaces', { method: 'POST', headers: { ...h, 'Content-Type': 'application/json' }, body: JSON.stringify({ name, template: 'hello' }) });
    if (!r.ok) throw new Error(`POST workspace ${name}: ${r.status}`);
    const { id: workspaceID } = await r.json();
    for (const [path, body] of Object.entries(files)) {
      const w = await fetch(`/api/v1/workspaces/${workspaceID}/files/${path}`, { method: 'PUT', headers: h, body });
      if (!w.ok) throw new Error(`PUT ${path}: ${w.status}`);
    }
    return workspaceID;
  }, { name, files });
}

/**
 * Sends method to a file of the page's workspace (?ws=) through the API
 * with the page's login; returns { status, text } whatever the status.
 */
export function fileAPI(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const workspaceID = new URLSearchParams(location.search).get('ws');
    const r = await fetch(`/api/v1/workspaces/${workspaceID}/files/${path}`, { method, body, headers: { 'X-Requested-With': 'ideserver' } });
    return { status: r.status, text: await r.text() };
  }, [method, path, body]);
}

/** Like fileAPI, but throws unless the status is 2xx; returns the body's text. */
export async function fileOK(page, method, path, body) {
  const { status, text } = await fileAPI(page, method, path, body);
  if (status < 200 || status > 299) throw new Error(`${method} ${path}: ${status}`);
  return text;
}

/** The saved UI state of the page's workspace (?ws=), read through the API. */
export function savedState(page) {
  return page.evaluate(async () => {
    const workspaceID = new URLSearchParams(location.search).get('ws');
    return (await fetch(`/api/v1/workspaces/${workspaceID}/state`, { headers: { 'X-Requested-With': 'ideserver' } })).json();
  });
}

/** The viewport point of the character at offset into the nth occurrence of text in an editor; asserts it is there. */
export async function pointOf(editor, text, nth = 0, offset = 2) {
  const at = await editor.evaluate((root, [text, nth, offset]) => {
    const walker = document.createTreeWalker(root.querySelector('.cm-content'), NodeFilter.SHOW_TEXT);
    let seen = 0;
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      for (let i = n.textContent.indexOf(text); i >= 0; i = n.textContent.indexOf(text, i + 1)) {
        if (seen++ < nth) continue;
        const range = document.createRange();
        range.setStart(n, i + offset);
        range.setEnd(n, i + offset + 1);
        const r = range.getBoundingClientRect();
        return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
      }
    }
    return null;
  }, [text, nth, offset]);
  assert.ok(at, `${text} (#${nth}) not found in the editor`);
  return at;
}

/** The workbench editor (a locator) of a workspace file. */
export const editorOf = (page, path) => page.locator(`#editors .editor[data-uri="file:///workspace/${path}"]`);

/** The text of an editor's lines, joined with newlines. */
export const textOf = async (editor) => (await editor.locator('.cm-line').allInnerTexts()).join('\n');

/** The text the shown xterm.js terminal of the workbench displays. */
export const termText = (page) => page.locator('#terms .term:not([hidden]) .xterm-rows').innerText();
