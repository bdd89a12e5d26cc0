// Browser test of the editor's code actions, organize imports on save,
// signature help and the file tree operations with the real binary and the
// pinned gopls: Ctrl-. on an undeclared `strings` lists gopls's import fix,
// which applies as an unsaved change; saving drops an unused import; a
// lazily resolved refactoring (extract variable) and a command whose edit
// comes back as workspace/applyEdit creating a file (add test) apply;
// typing `fmt.Printf(` shows its signature; "+ File", Rename and Delete
// work through their dialogs, and a file a terminal creates appears in the
// tree through the watch socket. Screenshots go to
// web/test-artifacts/editor-actions*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, assertEventually, createFromHome, editorOf, fileAPI, pointOf, signIn, termText, textOf, useIDE, withPage } from './harness.mjs';

const token = 'actions-test-token-0123456789abcdef';
const long = 240_000; // gopls's first start in a cold cache: slow on a small machine, slower with a second make test beside it
const env = useIDE(token);

/**
 * Opens the code action menu (Ctrl-.), moves to the first action whose
 * title matches re with the arrow keys and, after shot (if any), applies
 * it with Enter. Returns the titles listed.
 */
async function pickAction(page, re, shot) {
  const menu = page.locator('ul.code-actions');
  await page.keyboard.press('Control+.');
  await menu.locator('li').first().waitFor({ timeout: long });
  const titles = await menu.locator('li').allInnerTexts();
  const want = titles.findIndex((t) => re.test(t));
  assert.ok(want >= 0, `no action matching ${re} among ${JSON.stringify(titles)}`);
  for (let i = 0; i < want; i++) await page.keyboard.press('ArrowDown');
  assert.match(await menu.locator('li.current[aria-selected="true"]').innerText(), re);
  if (shot) await page.screenshot({ path: join(artifacts, shot) });
  await page.keyboard.press('Enter');
  await menu.waitFor({ state: 'detached' });
  return titles;
}

/** Answers the next dialog (prompt or confirm) of the page with accept(value). */
function answerNextDialog(page, value) {
  return new Promise((resolve) => {
    page.once('dialog', async (d) => {
      await d.accept(value);
      resolve({ type: d.type(), message: d.message() });
    });
  });
}

test('editor actions: code action import fix, organize imports on save, signature help, file tree', { timeout: 900_000 }, async () => {
  await withPage(env.browser, env.ide, 'editor-actions', async (page) => {
    await signIn(page, env.ide.base, token);
    await createFromHome(page, 'actions');
    await page.locator('#tree [data-path="main.go"]').waitFor();
    await fileAPI(page, 'PUT', 'main.go', 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(strings.ToUpper("hi"))\n}\n');
    await fileAPI(page, 'PUT', 'extra.go', 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc extra() {\n\tfmt.Println("extra")\n}\n');
    await page.locator('#tree [data-path="extra.go"]').waitFor();

    // (a) The undeclared `strings` gets a diagnostic; Ctrl-. at it lists
    // gopls's import fix in a menu that Escape closes and the keyboard drives.
    await page.click('#tree [data-path="main.go"]');
    const main = editorOf(page, 'main.go');
    await main.locator('.cm-content', { hasText: 'strings.ToUpper' }).waitFor();
    await page.locator('#lsp-status', { hasText: 'gopls: ready' }).waitFor({ timeout: long });
    await main.locator('.cm-lintRange-error').first().waitFor({ timeout: long });
    const word = await pointOf(main, 'strings'); // in strings.ToUpper, the only one
    await page.mouse.click(word.x, word.y);
    const menu = page.locator('ul.code-actions');
    await page.keyboard.press('Control+.');
    await menu.locator('li').first().waitFor({ timeout: long });
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    assert.equal(await main.locator('.cm-content').evaluate((c) => c.contains(document.activeElement)), true, 'Escape left the editor without focus');

    const titles = await pickAction(page, /^Add import: "strings"$/, 'editor-actions.png');
    // Actions that would open gopls's own web pages are not offered.
    assert.equal(titles.some((t) => /^Browse /.test(t)), false, `browse actions listed: ${JSON.stringify(titles)}`);
    await main.locator('.cm-line', { hasText: '"strings"' }).waitFor({ timeout: long });
    assert.match(await textOf(main), /import \(\s*"fmt"\s*"strings"\s*\)/);
    await page.locator('#tabs .tab.dirty[data-uri="file:///workspace/main.go"]').waitFor();
    await page.keyboard.press('Control+s');
    await page.locator('#tabs .tab.dirty').waitFor({ state: 'detached' });
    assert.match((await fileAPI(page, 'GET', 'main.go')).text, /import \(\n\t"fmt"\n\t"strings"\n\)/);
    await main.locator('.cm-lintRange-error').first().waitFor({ state: 'detached', timeout: long });

    // (b) Saving extra.go drops its unused import "os" (organize imports
    // before formatting), in the buffer and on the server.
    await page.click('#tree [data-path="extra.go"]');
    const extra = editorOf(page, 'extra.go');
    await extra.locator('.cm-lintRange-error').first().waitFor({ timeout: long });
    await extra.locator('.cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('// end\n');
    await page.locator('#tabs .tab.dirty[data-uri="file:///workspace/extra.go"]').waitFor();
    await page.keyboard.press('Control+s');
    await page.locator('#tabs .tab.dirty').waitFor({ state: 'detached' });
    const savedExtra = (await fileAPI(page, 'GET', 'extra.go')).text;
    assert.doesNotMatch(savedExtra, /"os"/);
    assert.match(savedExtra, /import \(\n\t"fmt"\n\)\n/);
    assert.match(savedExtra, /\/\/ end\n/);
    assert.doesNotMatch(await textOf(extra), /"os"/);

    // (a2) A refactoring gopls resolves lazily (codeAction/resolve): extract the
    // selected call into a variable.
    await page.locator('#tabs .tab[data-uri="file:///workspace/main.go"]').click();
    const call = await pointOf(main, 'Println');
    await page.mouse.click(call.x, call.y);
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowLeft'); // before the last ")"
    for (let i = 0; i < 'strings.ToUpper("hi")'.length; i++) await page.keyboard.press('Shift+ArrowLeft');
    await pickAction(page, /^Extract variable/);
    await main.locator('.cm-line', { hasText: ':= strings.ToUpper("hi")' }).waitFor({ timeout: long });
    assert.match(await textOf(main), /(\w+) := strings\.ToUpper\("hi"\)\n\s*fmt\.Println\(\1\)/);

    // (a3) A command whose edit comes back as workspace/applyEdit and creates a
    // file: Add test for main opens main_test.go, unsaved (gopls needs a
    // package without type errors, hence after (b)).
    await page.mouse.move(5, 400); // no hover tooltip over the line
    await page.locator('.cm-tooltip-hover').waitFor({ state: 'detached' });
    const fn = await pointOf(main, 'main', 1); // in `func main`, after `package main`
    await page.mouse.click(fn.x, fn.y);
    await pickAction(page, /^Add test for main$/);
    const testTab = page.locator('#tabs .tab.dirty[data-uri="file:///workspace/main_test.go"]');
    await testTab.waitFor({ timeout: long });
    await page.locator('#tree [data-path="main_test.go"]').waitFor();
    // gopls then asks to show it (window/showDocument): its tab is active.
    await page.locator('#tabs .tab.active[data-uri="file:///workspace/main_test.go"]').waitFor();
    assert.match(await textOf(editorOf(page, 'main_test.go')), /func Test\w*\(t \*testing\.T\)/);
    await page.keyboard.press('Control+s');
    await testTab.waitFor({ state: 'detached' });
    await page.locator('#tabs .tab[data-uri="file:///workspace/main.go"]').click();
    await page.keyboard.press('Control+s');
    await page.locator('#tabs .tab.dirty[data-uri="file:///workspace/main.go"]').waitFor({ state: 'detached' });
    assert.match((await fileAPI(page, 'GET', 'main_test.go')).text, /^package main\n[\s\S]*"testing"[\s\S]*func Test\w*\(t \*testing\.T\)/);

    // (c) Typing `fmt.Printf(` shows the signature with its parameters.
    const println = await pointOf(main, 'Println');
    await page.mouse.click(println.x - 30, println.y); // before the call, on its line
    await page.mouse.move(5, 400); // no hover over the editor
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('fmt.Printf(');
    const sig = page.locator('.cm-lsp-signature-tooltip');
    await sig.filter({ hasText: 'format string' }).waitFor({ timeout: long });
    await page.screenshot({ path: join(artifacts, 'editor-actions-signature.png') });
    await page.keyboard.press('Escape');

    // (d) "+ File" creates a file (its prompt answered), Rename renames it
    // and Delete (confirmed) deletes it; the tree follows each step.
    let dialog = answerNextDialog(page, 'scratch.txt');
    await page.click('#new-file');
    assert.equal((await dialog).type, 'prompt');
    await page.locator('#tree [data-path="scratch.txt"]').waitFor();
    await page.locator('#tabs .tab.active[data-uri="file:///workspace/scratch.txt"]').waitFor();
    assert.equal((await fileAPI(page, 'GET', 'scratch.txt')).status, 200);

    await page.click('#tree [data-path="scratch.txt"]');
    dialog = answerNextDialog(page, 'renamed.txt');
    await page.click('#rename');
    assert.match((await dialog).message, /Rename scratch\.txt to/);
    await page.locator('#tree [data-path="renamed.txt"]').waitFor();
    await page.locator('#tree [data-path="scratch.txt"]').waitFor({ state: 'detached' });
    await page.locator('#tabs .tab[data-uri="file:///workspace/renamed.txt"]').waitFor();
    assert.equal((await fileAPI(page, 'GET', 'scratch.txt')).status, 404);
    assert.equal((await fileAPI(page, 'GET', 'renamed.txt')).status, 200);

    await page.click('#tree [data-path="renamed.txt"]');
    dialog = answerNextDialog(page);
    await page.click('#delete');
    assert.deepEqual(await dialog, { type: 'confirm', message: 'Delete renamed.txt?' });
    await page.locator('#tree [data-path="renamed.txt"]').waitFor({ state: 'detached' });
    await page.locator('#tabs .tab[data-uri="file:///workspace/renamed.txt"]').waitFor({ state: 'detached' });
    assert.equal((await fileAPI(page, 'GET', 'renamed.txt')).status, 404);

    // A file a terminal creates shows up in the tree (watch socket).
    await page.click('#new-term');
    await page.locator('#terms .term .xterm').waitFor();
    await page.locator('#terms .term .xterm').click();
    await assertEventually(async () => /:\/workspace[$#]/.test(await termText(page)), 'the shell prompt');
    await page.keyboard.type('echo x > fromshell.txt && echo made-$((40+2))\n');
    await assertEventually(async () => (await termText(page)).includes('made-42'), 'the command ran');
    await page.locator('#tree [data-path="fromshell.txt"]').waitFor({ timeout: 30_000 });
    assert.equal((await fileAPI(page, 'GET', 'fromshell.txt')).text, 'x\n');
    await page.screenshot({ path: join(artifacts, 'editor-actions-tree.png') });
  });
});
