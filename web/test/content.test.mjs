// EMB-04 in a real browser: user content (program output in the share
// page and the playground, file contents in the share page and the
// workbench, terminal output, the debug console) that holds <script> and
// <img onerror> payloads is shown as text and never runs, so it cannot
// reach the IDE's APIs with the viewer's login. Each payload would set a
// window flag and create a workspace through the API; the test asserts the
// flag stays unset and no workspace appears. The page's CSP also refuses
// inline scripts and handlers, should markup ever get through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertEventually, createWorkspace, editorOf, signIn, termText, useIDE, withPage } from './harness.mjs';

const token = 'content-test-token-0123456789abcdef';
const long = 240_000; // gopls's first start in a cold cache: slow on a small machine, slower with a second make test beside it
const env = useIDE(token);

// What a payload does if it runs: flags the window and, with the viewer's
// cookie, creates a workspace named "pwned".
const attack = (n) => `window.__pwned=${n};fetch('/api/v1/workspaces',{method:'POST',headers:{'X-Requested-With':'ideserver','Content-Type':'application/json'},body:'{"name":"pwned"}'})`;
const payload = `<script>${attack(1)}</script><img src=x onerror="${attack(2)}"><svg onload="${attack(3)}"></svg><b>bold</b>`;
// A program that prints the payload (a raw string literal: no Go escapes needed).
const mainGo = `package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(\`${payload}\`)\n}\n`;

/** Fails if a payload ran in page or left elements behind in the given containers. */
async function assertInert(page, containers) {
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'a payload ran');
  for (const c of containers) {
    assert.equal(await page.locator(`${c} img, ${c} script, ${c} svg, ${c} b`).count(), 0, `markup from user content in ${c}`);
  }
}

/** Whether the signed-in API lists a workspace named "pwned". */
async function pwnedWorkspace(page) {
  return page.evaluate(async () => {
    const r = await fetch('/api/v1/workspaces', { headers: { 'X-Requested-With': 'ideserver' } });
    return (await r.json()).workspaces.some((w) => w.name === 'pwned');
  });
}

test('EMB-04: user content in the share page, playground, workbench, terminal and debug console stays text', { timeout: 900_000 }, async () => {
  let workspaceID = '';
  let shareURL = '';
  let snippet = '';
  await withPage(env.browser, env.ide, 'content-owner', async (page) => {
    await signIn(page, env.ide.base, token);
    workspaceID = await createWorkspace(page, 'content', { 'main.go': mainGo, 'page.html': `<!doctype html>${payload}\n` });
    ({ shareURL, snippet } = await page.evaluate(async ({ workspaceID, mainGo }) => {
      const h = { 'X-Requested-With': 'ideserver' };
      const sh = await (await fetch(`/api/v1/workspaces/${workspaceID}/shares`, { method: 'POST', headers: { ...h, 'Content-Type': 'application/json' }, body: '{"access":"view"}' })).json();
      const snippet = (await (await fetch('/share', { method: 'POST', body: mainGo })).text()).trim();
      return { shareURL: sh.url, snippet };
    }, { workspaceID, mainGo }));

    // The raw file is never served as a page of the IDE's origin.
    const raw = await page.evaluate(async (workspaceID) => {
      const r = await fetch(`/api/v1/workspaces/${workspaceID}/files/page.html`, { headers: { 'X-Requested-With': 'ideserver' } });
      return { type: r.headers.get('Content-Type'), nosniff: r.headers.get('X-Content-Type-Options') };
    }, workspaceID);
    assert.ok(!/html|javascript|svg|xml/.test(raw.type ?? ''), `page.html served as ${raw.type}`);
    assert.equal(raw.nosniff, 'nosniff');

    // The page's CSP refuses an inline script and an inline handler even
    // if one were put into the document.
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__csp = 1';
      document.body.append(s);
      const d = document.createElement('div');
      d.innerHTML = '<img src="data:," onload="window.__csp = 2" onerror="window.__csp = 3">';
      document.body.append(d);
    });
    await page.waitForFunction(() => document.querySelector('img[src="data:,"]')?.complete);
    assert.equal(await page.evaluate(() => window.__csp), undefined, 'the CSP let an inline script run');

    // The workbench: the file in an editor, the program's output in a
    // terminal, and in the debug console.
    await page.goto(`${env.ide.base}/?ws=${encodeURIComponent(workspaceID)}`);
    await page.locator('#wb').waitFor({ state: 'visible' });
    await page.click('#tree [data-path="page.html"]');
    const html = editorOf(page, 'page.html');
    await html.locator('.cm-line', { hasText: '<script>window.__pwned=1' }).waitFor();
    await page.click('#new-term');
    await page.locator('#terms .term .xterm').click();
    await page.keyboard.type('cat page.html; go run .\n');
    await assertEventually(async () => ((await termText(page)).replace(/\n/g, '').match(/<svg onload=/g) ?? []).length >= 2, 'the payload in the terminal, twice');
    await page.click('#debug-toggle'); // the debug panel is hidden until used
    await page.click('#dbg-main');
    await page.locator('#dbg-status', { hasText: 'Exited with code 0' }).waitFor({ timeout: long });
    await page.locator('#dbg-console .stdout', { hasText: '<img src=x onerror=' }).waitFor();
    await assertInert(page, ['#editors', '#terms', '#dbg-console']);
    assert.equal(await pwnedWorkspace(page), false, 'a payload created a workspace');
  });

  // The share page, signed out and then signed in: the files and the run
  // output are text.
  for (const signedIn of [false, true]) {
    await withPage(env.browser, env.ide, `content-share-${signedIn ? 'in' : 'out'}`, async (page) => {
      if (signedIn) await signIn(page, env.ide.base, token);
      await page.goto(shareURL);
      await page.locator('#page').waitFor({ state: 'visible' });
      await page.click('#page-tabs .tab[data-file="page.html"]');
      await page.locator('#page-editors .editor:not([hidden]) .cm-line', { hasText: '<img src=x onerror=' }).waitFor();
      await page.click('#page-tabs .tab[data-file="main.go"]');
      await page.click('#run');
      await page.locator('#output[data-state="done"]').waitFor({ timeout: long });
      assert.match(await page.locator('#output').innerText(), /<script>window\.__pwned=1;/);
      await assertInert(page, ['#page-editors', '#output']);
      if (signedIn) assert.equal(await pwnedWorkspace(page), false, 'a payload created a workspace');
    });
  }

  // The playground with the snippet: its output is text too.
  await withPage(env.browser, env.ide, 'content-play', async (page) => {
    await signIn(page, env.ide.base, token);
    await page.goto(`${env.ide.base}/p/${snippet}`);
    await page.locator('#page').waitFor({ state: 'visible' });
    await page.click('#run');
    await page.locator('#output[data-state="done"]').waitFor({ timeout: long });
    assert.match(await page.locator('#output').innerText(), /<svg onload=/);
    await assertInert(page, ['#page-editors', '#output']);
    assert.equal(await pwnedWorkspace(page), false, 'a payload created a workspace');
  });
});
