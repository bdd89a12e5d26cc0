// End-to-end test of the web UI in a real browser: Debian's Chromium driven
// by playwright-core against the real ideserver binary (built here), with
// the pinned gopls. Screenshots go to web/test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, launchBrowser, startIDE } from './harness.mjs';

const token = 'browser-test-token-0123456789abcdef';
const long = 90_000; // gopls's first start in a cold cache is slow on a small machine

let ide, base, browser;

before(async () => {
  ide = await startIDE(token);
  base = ide.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await ide?.stop();
});

/** The text an xterm.js terminal shows. */
const termText = (page) => page.locator('#terms .term:not([hidden]) .xterm-rows').innerText();

test('workbench: sign in, create, edit with diagnostics, terminal survives reload', { timeout: 300_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    // The start-up URL signs in and the credential leaves the address bar.
    await page.goto(`${base}/#token=${token}`);
    await page.locator('#home').waitFor({ state: 'visible' });
    assert.ok(!page.url().includes(token), 'token still in the address bar');

    // Create a workspace from the hello template.
    await page.fill('#ws-name', 'demo');
    await page.click('#create button[type=submit]');
    await page.locator('#wb').waitFor({ state: 'visible' });
    assert.match(page.url(), /\?ws=/);
    await page.locator('#tree [data-path="main.go"]').waitFor();
    await page.locator('#tree [data-path="go.mod"]').waitFor();

    // Open main.go; gopls comes up.
    await page.click('#tree [data-path="main.go"]');
    const editor = page.locator('#editors .editor[data-uri="file:///workspace/main.go"]');
    await editor.locator('.cm-content').waitFor();
    await page.locator('#lsp-status', { hasText: 'gopls: ready' }).waitFor({ timeout: long });
    await page.screenshot({ path: join(artifacts, 'workbench.png') });

    // Type an error and see gopls's diagnostic.
    await editor.locator('.cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('var broken int = "text"');
    await page.keyboard.press('Escape');
    await editor.locator('.cm-lintRange-error').first().waitFor({ timeout: long });
    await page.locator('#tabs .tab.dirty').waitFor();
    await page.screenshot({ path: join(artifacts, 'diagnostic.png') });

    // Save with Ctrl-S: the tab is clean and the file holds the change.
    await page.keyboard.press('Control+s');
    await page.locator('#tabs .tab.dirty').waitFor({ state: 'detached' });
    const saved = await page.evaluate(async () => {
      const ws = new URLSearchParams(location.search).get('ws');
      const r = await fetch(`/api/v1/workspaces/${ws}/files/main.go`, { headers: { 'X-Requested-With': 'ideserver' } });
      return r.text();
    });
    assert.match(saved, /var broken int = "text"/);

    // Go to the definition of Println: the standard library file opens
    // read-only from /goroot.
    const at = await editor.evaluate((root) => {
      const walker = document.createTreeWalker(root.querySelector('.cm-content'), NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const i = n.textContent.indexOf('Println');
        if (i < 0) continue;
        const range = document.createRange();
        range.setStart(n, i + 2);
        range.setEnd(n, i + 3);
        const r = range.getBoundingClientRect();
        return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
      }
      return null;
    });
    assert.ok(at, 'Println not found in the editor');
    await page.mouse.click(at.x, at.y);
    await page.keyboard.press('F12');
    const def = page.locator('#editors .editor[data-uri="file:///goroot/src/fmt/print.go"]');
    await def.locator('.cm-content', { hasText: 'func Println' }).waitFor({ timeout: long });
    await page.locator('#tabs .tab.ro.active[data-uri="file:///goroot/src/fmt/print.go"]').waitFor();
    await page.screenshot({ path: join(artifacts, 'definition.png') });
    assert.equal(await def.locator('.cm-content').getAttribute('contenteditable'), 'true'); // navigable
    assert.equal(await page.evaluate(() => document.body.innerHTML.includes('/usr/local/go')), false, 'host path in the page');

    // A terminal shows a command's output.
    await page.click('#new-term');
    await page.locator('#terms .term .xterm').waitFor();
    await page.locator('#terms .term .xterm').click();
    await page.keyboard.type('echo hello-$((6*7))\n');
    await assertEventually(async () => (await termText(page)).includes('hello-42'), 'terminal output');
    // The shell runs isolated (make test installs bubblewrap): its prompt
    // shows the sandbox's view, never a host path.
    assert.match(await termText(page), /:\/workspace[$#]/, 'the prompt shows /workspace');
    assert.doesNotMatch(await termText(page), /ideserver-web-/, 'a host path in the terminal');
    await page.screenshot({ path: join(artifacts, 'terminal.png') });

    // After a reload the terminal is re-attached with its output, and the
    // open tabs are restored from the workspace state. The reload measures
    // the time to an interactive editor and to gopls's first diagnostics.
    await page.locator('#tabs .tab[data-uri="file:///workspace/main.go"]').click();
    await assertEventually(async () => {
      const st = await page.evaluate(async () => {
        const ws = new URLSearchParams(location.search).get('ws');
        return (await fetch(`/api/v1/workspaces/${ws}/state`, { headers: { 'X-Requested-With': 'ideserver' } })).json();
      });
      return st?.active === 'file:///workspace/main.go';
    }, 'saved UI state');
    const t0 = Date.now();
    await page.reload();
    const main = page.locator('#editors .editor[data-uri="file:///workspace/main.go"]');
    await main.locator('.cm-content').waitFor();
    const tEditor = Date.now() - t0;
    await main.locator('.cm-lintRange-error').first().waitFor({ timeout: long });
    const tDiag = Date.now() - t0;
    console.log(`reload: interactive editor after ${tEditor} ms, first diagnostics after ${tDiag} ms`);
    await page.locator('#tabs .tab[data-uri="file:///goroot/src/fmt/print.go"]').waitFor();
    await page.locator('#terms .term .xterm').waitFor();
    await assertEventually(async () => (await termText(page)).includes('hello-42'), 'terminal output after reload');
    await page.screenshot({ path: join(artifacts, 'reload.png') });
    assert.deepEqual(errors, []);
  } catch (e) {
    await page.screenshot({ path: join(artifacts, 'failure.png') }).catch(() => {});
    throw new Error(`${e.message}\nserver log tail:\n${ide.log().slice(-3000)}`, { cause: e });
  } finally {
    await context.close();
  }
});

/** Polls cond until it holds (at most 60 s). */
async function assertEventually(cond, what) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}
