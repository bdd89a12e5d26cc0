// Browser test of the workbench's lazy loading, its saved layout and find
// references, with the real binary and the pinned gopls: a cold load
// fetches neither xterm.js nor the debug session; Shift-F12 lists the
// references in files without a tab and opens one; the side bar, the debug
// panel, the terminals (order, the shown one), the terminal panel's height
// and the expanded folders survive a reload. Screenshot: web/test-artifacts/references.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, assertEventually, createWorkspace, editorOf, savedState, signIn, useIDE, withPage } from './harness.mjs';

const token = 'layout-test-token-0123456789abcdef';
const long = 240_000; // gopls's first start in a cold cache: slow on a small machine, slower with a second make test beside it
const env = useIDE(token);

const mainGo = 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(double(1))\n\tfmt.Println(double(2))\n}\n';
const utilGo = 'package main\n\nfunc double(x int) int {\n\treturn x * 2\n}\n';

test('workbench: lazy chunks, find references across files, layout restored on reload', { timeout: 900_000 }, async () => {
  await withPage(env.browser, env.ide, 'layout', async (page) => {
    const scripts = [];
    page.on('request', (r) => { if (r.url().endsWith('.js')) scripts.push(new URL(r.url()).pathname); });
    await signIn(page, env.ide.base, token);
    const workspaceID = await createWorkspace(page, 'layout', { 'main.go': mainGo, 'util.go': utilGo, 'notes/todo.md': '- [ ] ship\n' });

    // A cold workbench load: the entry and its chunks, not xterm.js (no
    // terminal yet) nor the debug session (not used yet).
    scripts.length = 0;
    await page.goto(`${env.ide.base}/?ws=${encodeURIComponent(workspaceID)}`);
    await page.locator('#wb').waitFor({ state: 'visible' });
    await page.click('#tree [data-path="util.go"]');
    const util = editorOf(page, 'util.go');
    await util.locator('.cm-content').waitFor();
    await page.locator('#lsp-status', { hasText: 'gopls: ready' }).waitFor({ timeout: long });
    assert.ok(scripts.includes('/assets/index.js'), `scripts: ${scripts}`);
    assert.deepEqual(scripts.filter((s) => /term-pane|debug-session|references|\/pages-/.test(s)), [], 'lazy chunks fetched on a cold load');

    // Shift-F12 on the declaration of double: three references, two of
    // them in main.go, which has no tab; they are listed as text.
    await util.locator('.cm-line', { hasText: 'func double' }).click();
    await page.keyboard.press('Home');
    for (let i = 0; i < 'func d'.length; i++) await page.keyboard.press('ArrowRight');
    await assertEventually(async () => {
      await page.keyboard.press('Shift+F12');
      await page.locator('#refs-pane').waitFor({ state: 'visible' });
      await page.locator('#refs-info', { hasNotText: 'Finding' }).waitFor({ timeout: long });
      return (await page.locator('#refs-results .search-match').count()) === 3;
    }, 'three references');
    assert.ok(scripts.some((s) => s.includes('/references-')), 'the references chunk was not loaded on use');
    await page.locator('#tree').waitFor({ state: 'hidden' });
    assert.match(await page.locator('#refs-info').innerText(), /3 references in 2 files/);
    const inMain = page.locator('#refs-results .search-match[data-uri="file:///workspace/main.go"]');
    assert.equal(await inMain.count(), 2);
    assert.deepEqual(await inMain.evaluateAll((rows) => rows.map((r) => r.dataset.line)), ['6', '7']);
    assert.match(await inMain.nth(1).innerText(), /fmt\.Println\(double\(2\)\)/);
    assert.equal(await page.locator('#refs-results .search-file', { hasText: 'main.go' }).count(), 1);
    assert.equal(await page.locator('#tabs .tab[data-uri="file:///workspace/main.go"]').count(), 0, 'main.go opened by the search');
    await page.screenshot({ path: join(artifacts, 'references.png') });

    // A click opens main.go at the reference.
    await inMain.nth(1).click();
    await page.locator('#tabs .tab.active[data-uri="file:///workspace/main.go"]').waitFor();
    const main = editorOf(page, 'main.go');
    await main.locator('.cm-activeLine', { hasText: 'fmt.Println(double(2))' }).waitFor();
    await page.click('#refs-close');
    await page.locator('#tree').waitFor({ state: 'visible' });

    // The layout: two terminals with the first shown, the debug panel
    // hidden, the search in the side bar, a taller terminal panel.
    await page.click('#new-term');
    await page.locator('#terms .term .xterm').waitFor();
    await page.click('#new-term');
    await page.locator('#terms .term').nth(1).locator('.xterm').waitFor();
    assert.ok(scripts.some((s) => s.includes('/term-pane-')), 'xterm.js chunk not loaded for the first terminal');
    const terms = await page.locator('#terms .term').evaluateAll((els) => els.map((e) => e.dataset.terminal));
    assert.equal(terms.length, 2);
    await page.locator('#term-tabs .tab').first().click();
    assert.equal(await page.locator('#debug').isVisible(), false, 'the debug panel is shown before it is used');
    await page.click('#search-open');
    await page.locator('#search-pane').waitFor({ state: 'visible' });
    const before = (await page.locator('#panel').boundingBox()).height;
    await page.focus('#panel-resize');
    for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowUp');
    const height = (await page.locator('#panel').boundingBox()).height;
    assert.ok(height >= before + 60, `panel ${before} -> ${height} px`);
    await assertEventually(async () => {
      const st = await savedState(page);
      return st?.debug === false && st.side === 'search' && st.terminals?.active === terms[0]
        && st.terminals.order?.join() === terms.join() && Math.abs((st.terminals.height ?? 0) - height) <= 2;
    }, 'the layout in the saved state');

    // After a reload, all of it is back.
    await page.reload();
    await page.locator('#wb').waitFor({ state: 'visible' });
    await page.locator('#terms .term').nth(1).locator('.xterm').waitFor({ state: 'attached' });
    await assertEventually(async () => (await page.locator('#terms .term:not([hidden])').getAttribute('data-terminal')) === terms[0], 'the saved terminal shown');
    await page.locator('#search-pane').waitFor({ state: 'visible' });
    await page.locator('#tree').waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#debug').isVisible(), false, 'debug panel shown again');
    assert.deepEqual(await page.locator('#terms .term').evaluateAll((els) => els.map((e) => e.dataset.terminal)), terms);
    assert.equal(await page.locator('#term-tabs .tab').first().getAttribute('class'), 'tab active');
    assert.ok(Math.abs((await page.locator('#panel').boundingBox()).height - height) <= 2, 'panel height not restored');
    await page.locator('#tabs .tab.active[data-uri="file:///workspace/main.go"]').waitFor();

    // The debug panel comes back on a click and stays on after a reload.
    await page.click('#debug-toggle');
    await page.locator('#debug').waitFor({ state: 'visible' });
    await assertEventually(async () => (await savedState(page))?.debug === true, 'debug panel saved as shown');
    await page.reload();
    await page.locator('#wb').waitFor({ state: 'visible' });
    await page.locator('#debug').waitFor({ state: 'visible' });

    // Back to the tree: an expanded folder stays expanded after a reload.
    await page.click('#search-close');
    await page.locator('#tree').waitFor({ state: 'visible' });
    await page.click('#tree [data-path="notes"]');
    await page.locator('#tree [data-path="notes/todo.md"]').waitFor();
    await assertEventually(async () => (await savedState(page))?.expanded?.includes('notes'), 'the expanded folder saved');
    await page.reload();
    await page.locator('#tree [data-path="notes/todo.md"]').waitFor();
  });
});
