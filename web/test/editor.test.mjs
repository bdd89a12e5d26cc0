// Browser test of the editor features with the real binary and the pinned
// gopls: quick open, completion, hover, format on save, rename across files
// (also into a file without a tab), Ctrl-click go to definition into
// /goroot, workspace search (results as text) and the shortcut help.
// Screenshots go to web/test-artifacts/editor-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, createFromHome, editorOf, fileOK, pointOf, signIn, textOf, useIDE, withPage } from './harness.mjs';

const token = 'editor-test-token-0123456789abcdef';
const long = 240_000; // gopls's first start in a cold cache: slow on a small machine, slower with a second make test beside it
const env = useIDE(token);

test('editor: quick open, completion, hover, format on save, rename, Ctrl-click definition, search', { timeout: 900_000 }, async () => {
  await withPage(env.browser, env.ide, 'editor', async (page) => {
    await signIn(page, env.ide.base, token);
    await createFromHome(page, 'editor');
    await page.locator('#tree [data-path="main.go"]').waitFor();
    // A second file that no tab shows, and one whose content looks like HTML.
    await fileOK(page, 'PUT', 'helper.go', 'package main\n\nfunc greeting() string {\n\treturn "Hello"\n}\n');
    await fileOK(page, 'PUT', 'notes/evil.txt', 'needle <img src=x onerror="document.title=1"><b>bold</b>\n');
    await page.locator('#tree [data-path="helper.go"]').waitFor();

    // Quick open (Ctrl-P) lists the files; typing filters; Enter opens.
    await page.keyboard.press('Control+p');
    await page.locator('#quickopen').waitFor({ state: 'visible' });
    await page.locator('#qo-list li[data-path="notes/evil.txt"]').waitFor();
    await page.keyboard.type('mgo');
    await page.locator('#qo-list li.current[data-path="main.go"]').waitFor();
    assert.equal(await page.locator('#qo-list li[data-path="notes/evil.txt"]').count(), 0, 'filter kept a non-match');
    await page.screenshot({ path: join(artifacts, 'editor-quickopen.png') });
    await page.keyboard.press('Enter');
    await page.locator('#quickopen').waitFor({ state: 'hidden' });
    const main = editorOf(page, 'main.go');
    await main.locator('.cm-content').waitFor();
    await page.locator('#tabs .tab.active[data-uri="file:///workspace/main.go"]').waitFor();
    await page.locator('#lsp-status', { hasText: 'gopls: ready' }).waitFor({ timeout: long });

    // Completion after `fmt.` lists Println. The badly spaced func line is
    // for format on save below.
    await main.locator('.cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('func   extra()  {');
    await page.keyboard.press('Enter');
    await page.keyboard.type('fmt.');
    const item = page.locator('.cm-tooltip-autocomplete .cm-completionLabel', { hasText: /^Println$/ });
    await item.first().waitFor({ timeout: long });
    await page.screenshot({ path: join(artifacts, 'editor-completion.png') });
    await page.keyboard.press('Escape');
    await page.locator('.cm-tooltip-autocomplete').waitFor({ state: 'detached' });
    await page.keyboard.type('Println(greeting())');
    await page.keyboard.press('Escape');
    assert.match(await textOf(main), /func {3}extra\(\) {2}\{\n\s*fmt\.Println\(greeting\(\)\)\n\}/);

    // Hover over Println shows its documentation.
    const println = await pointOf(main, 'Println', 0);
    await page.mouse.move(println.x, println.y);
    const hover = page.locator('.cm-tooltip-hover');
    await hover.filter({ hasText: 'Println formats using the default formats' }).waitFor({ timeout: long });
    await page.screenshot({ path: join(artifacts, 'editor-hover.png') });
    await page.mouse.move(5, 400);

    // Ctrl-S formats first (gofmt through gopls), then saves.
    await main.locator('.cm-content').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('Control+s');
    await page.locator('#tabs .tab.dirty').waitFor({ state: 'detached' });
    const saved = await fileOK(page, 'GET', 'main.go');
    assert.match(saved, /\nfunc extra\(\) \{\n\tfmt\.Println\(greeting\(\)\)\n\}\n$/);
    assert.match(await textOf(main), /func extra\(\) \{/);

    // F2 renames greeting in main.go and in helper.go, which had no tab: it
    // opens in the background, changed and unsaved; both save.
    const word = await pointOf(main, 'greeting', 0);
    await page.mouse.click(word.x, word.y);
    await page.keyboard.press('F2');
    const input = main.locator('.cm-lsp-rename-panel input[name=name]');
    await input.waitFor();
    await input.fill('salutation');
    await input.press('Enter');
    await main.locator('.cm-line', { hasText: 'fmt.Println(salutation())' }).waitFor({ timeout: long });
    const helperTab = page.locator('#tabs .tab.dirty[data-uri="file:///workspace/helper.go"]');
    await helperTab.waitFor();
    await page.keyboard.press('Control+s');
    await helperTab.click();
    assert.match(await textOf(editorOf(page, 'helper.go')), /func salutation\(\) string/);
    await page.screenshot({ path: join(artifacts, 'editor-rename.png') });
    await page.keyboard.press('Control+s');
    await page.locator('#tabs .tab.dirty').waitFor({ state: 'detached' });
    assert.match(await fileOK(page, 'GET', 'main.go'), /fmt\.Println\(salutation\(\)\)/);
    assert.match(await fileOK(page, 'GET', 'helper.go'), /func salutation\(\) string/);

    // Ctrl-click on Println opens the standard library file read-only.
    await page.locator('#tabs .tab[data-uri="file:///workspace/main.go"]').click();
    const target = await pointOf(main, 'Println', 0);
    await page.keyboard.down('Control');
    await page.mouse.click(target.x, target.y);
    await page.keyboard.up('Control');
    const def = page.locator('#editors .editor[data-uri="file:///goroot/src/fmt/print.go"]');
    await def.locator('.cm-content', { hasText: 'func Println' }).waitFor({ timeout: long });
    await page.locator('#tabs .tab.ro.active[data-uri="file:///goroot/src/fmt/print.go"]').waitFor();
    assert.equal(await page.evaluate(() => document.body.innerHTML.includes('/usr/local/go')), false, 'host path in the page');

    // Ctrl-Shift-F searches the workspace; results are text, and a click
    // opens the file at the match.
    await page.keyboard.press('Control+Shift+F');
    await page.locator('#search-pane').waitFor({ state: 'visible' });
    await page.locator('#tree').waitFor({ state: 'hidden' });
    await page.keyboard.type('needle');
    const evil = page.locator('#search-results .search-match[data-path="notes/evil.txt"]');
    await evil.waitFor();
    assert.equal(await page.locator('#search-results img, #search-results b').count(), 0, 'search result rendered as HTML');
    assert.match(await evil.innerText(), /<b>bold<\/b>/);
    await page.fill('#search-q', 'salutation');
    const hit = page.locator('#search-results .search-match[data-path="helper.go"][data-line="3"]');
    await hit.waitFor();
    assert.match(await page.locator('#search-info').innerText(), /^2 results in 2 files$/);
    await page.screenshot({ path: join(artifacts, 'editor-search.png') });
    await hit.click();
    await page.locator('#tabs .tab.active[data-uri="file:///workspace/helper.go"]').waitFor();
    await editorOf(page, 'helper.go').locator('.cm-activeLine', { hasText: 'func salutation() string' }).waitFor();
    await page.locator('#search-close').click();
    await page.locator('#tree').waitFor({ state: 'visible' });

    // The shortcut help lists the bindings.
    await page.click('#keys-help');
    await page.locator('#keys', { hasText: 'Quick open a file' }).waitFor();
    await page.keyboard.press('Escape');
    await page.locator('#keys').waitFor({ state: 'hidden' });

    assert.equal(await page.title(), 'editor — ideserver');
  });
});
