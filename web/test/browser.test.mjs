// End-to-end test of the web UI in a real browser: Debian's Chromium driven
// by playwright-core against the real ideserver binary (built here), with
// the pinned gopls. Screenshots go to web/test-artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, assertEventually, createFromHome, editorOf, fileAPI, pointOf, savedState, signIn, termText, useIDE, withPage } from './harness.mjs';

const token = 'browser-test-token-0123456789abcdef';
const long = 240_000; // gopls's first start in a cold cache: slow on a small machine, slower with a second make test beside it
const env = useIDE(token);

test('workbench: sign in, create, edit with diagnostics, terminal survives reload', { timeout: 900_000 }, async () => {
  await withPage(env.browser, env.ide, 'browser', async (page) => {
    // The start-up URL signs in and the credential leaves the address bar.
    await signIn(page, env.ide.base, token);
    assert.ok(!page.url().includes(token), 'token still in the address bar');

    // Create a workspace from the hello template.
    await createFromHome(page, 'demo');
    assert.match(page.url(), /\?ws=/);
    await page.locator('#tree [data-path="main.go"]').waitFor();
    await page.locator('#tree [data-path="go.mod"]').waitFor();

    // Open main.go; gopls comes up.
    await page.click('#tree [data-path="main.go"]');
    const editor = editorOf(page, 'main.go');
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
    const saved = (await fileAPI(page, 'GET', 'main.go')).text;
    assert.match(saved, /var broken int = "text"/);

    // Go to the definition of Println: the standard library file opens
    // read-only from /goroot.
    const at = await pointOf(editor, 'Println');
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
    await assertEventually(async () => (await savedState(page))?.active === 'file:///workspace/main.go', 'saved UI state');
    const t0 = Date.now();
    await page.reload();
    const main = editorOf(page, 'main.go');
    await main.locator('.cm-content').waitFor();
    const tEditor = Date.now() - t0;
    await main.locator('.cm-lintRange-error').first().waitFor({ timeout: long });
    const tDiag = Date.now() - t0;
    console.log(`reload: interactive editor after ${tEditor} ms, first diagnostics after ${tDiag} ms`);
    await page.locator('#tabs .tab[data-uri="file:///goroot/src/fmt/print.go"]').waitFor();
    await page.locator('#terms .term .xterm').waitFor();
    await assertEventually(async () => (await termText(page)).includes('hello-42'), 'terminal output after reload');
    await page.screenshot({ path: join(artifacts, 'reload.png') });
  });
});
