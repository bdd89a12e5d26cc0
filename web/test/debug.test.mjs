// Browser test of the debug panel: Debian's Chromium driven by playwright-core
// against the real ideserver binary with the pinned dlv. A breakpoint set by
// clicking the gutter stops the program; the stop is highlighted, the
// variables show their values, the console evaluates and shows the program's
// output as text; then the test under the cursor is debugged and stopped.
// The screenshot goes to web/test-artifacts/debugger.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, createWorkspace, editorOf, signIn, useIDE, withPage } from './harness.mjs';

const token = 'debug-test-token-0123456789abcdef';
const long = 180_000; // the first debug build compiles the runtime without optimizations

const mainGo = `package main

import "fmt"

func main() {
	greeting := "hello from the debugger"
	count := 42
	fmt.Println(greeting, count)
	fmt.Println("<b>not bold</b> \\x1b[31mred")
}

func double(n int) int {
	return n * 2
}
`;

const mainTestGo = `package main

import "testing"

func TestDouble(t *testing.T) {
	got := double(21)
	if got != 42 {
		t.Fatalf("double(21) = %d", got)
	}
}
`;

const env = useIDE(token);

/** Clicks the breakpoint gutter beside a 1-based line of an editor. */
async function clickGutter(editor, line) {
  const row = await editor.locator('.cm-content .cm-line').nth(line - 1).boundingBox();
  const gutter = await editor.locator('.cm-bp-gutter').boundingBox();
  assert.ok(row && gutter, 'editor not laid out');
  await editor.page().mouse.click(gutter.x + gutter.width / 2, row.y + row.height / 2);
}

test('debug panel: gutter breakpoint, stop, variables, console, continue; debug the test under the cursor', { timeout: 600_000 }, async () => {
  await withPage(env.browser, env.ide, 'debugger', async (page) => {
    await signIn(page, env.ide.base, token);
    const workspaceID = await createWorkspace(page, 'dbg', { 'main.go': mainGo, 'main_test.go': mainTestGo });
    await page.goto(`${env.ide.base}/?ws=${encodeURIComponent(workspaceID)}`);
    await page.locator('#wb').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#debug').isVisible(), false, 'the debug panel is shown before it is used');
    await page.click('#debug-toggle');
    await page.locator('#debug').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#dbg-continue').isDisabled(), true, 'Continue enabled before debugging');

    // A click in the gutter beside line 8 sets a breakpoint; a second click
    // removes it, a third sets it again.
    await page.click('#tree [data-path="main.go"]');
    const editor = editorOf(page, 'main.go');
    await editor.locator('.cm-content').waitFor();
    await clickGutter(editor, 8);
    await editor.locator('.cm-bp-marker').waitFor();
    await clickGutter(editor, 8);
    await editor.locator('.cm-bp-marker').waitFor({ state: 'detached' });
    await clickGutter(editor, 8);
    assert.equal(await editor.locator('.cm-bp-marker').count(), 1);

    // Debug main: the program stops at the breakpoint, the line is
    // highlighted, the stack and the variables are shown.
    const t0 = Date.now();
    await page.click('#dbg-main');
    await page.locator('#dbg-status[data-state="stopped"]', { hasText: 'main.go:8' }).waitFor({ timeout: long });
    console.log(`debug main: stopped at the breakpoint after ${Date.now() - t0} ms (cold build cache)`);
    assert.equal(await editor.locator('.cm-debug-line').innerText(), '\tfmt.Println(greeting, count)');
    await page.locator('#dbg-stack li.selected', { hasText: 'main.main' }).waitFor();
    const vars = page.locator('#dbg-vars');
    await vars.locator('.var', { hasText: 'greeting = "hello from the debugger"' }).waitFor();
    await vars.locator('.var', { hasText: 'count = 42' }).waitFor();
    assert.equal(await page.locator('#dbg-continue').isDisabled(), false);

    // The console evaluates in the selected frame.
    await page.fill('#dbg-eval', 'count * 2');
    await page.press('#dbg-eval', 'Enter');
    await page.locator('#dbg-console .result', { hasText: '84' }).waitFor();
    await page.screenshot({ path: join(artifacts, 'debugger.png') });

    // A click on a frame of the standard library opens its /goroot file
    // read-only at the frame's line; back to main.main.
    await page.locator('#dbg-stack li', { hasText: 'runtime.main' }).click();
    const proc = page.locator('#editors .editor[data-uri="file:///goroot/src/runtime/proc.go"]');
    await proc.locator('.cm-debug-frame').waitFor();
    await page.locator('#tabs .tab.ro.active[data-uri="file:///goroot/src/runtime/proc.go"]').waitFor();
    await page.locator('#dbg-stack li', { hasText: 'main.main' }).click();
    await page.locator('#tabs .tab.active[data-uri="file:///workspace/main.go"]').waitFor();
    await vars.locator('.var', { hasText: 'count = 42' }).waitFor();

    // F10 steps over line 8: its output arrives, the stop moves to line 9.
    await editor.locator('.cm-content').click();
    await page.keyboard.press('F10');
    await page.locator('#dbg-status[data-state="stopped"]', { hasText: 'main.go:9' }).waitFor({ timeout: long });
    await page.locator('#dbg-console .stdout', { hasText: 'hello from the debugger 42' }).waitFor();
    assert.equal(await editor.locator('.cm-debug-line').innerText(), '\tfmt.Println("<b>not bold</b> \\x1b[31mred")');

    // F5 continues to the end: the rest of the output is text (no element,
    // the escape made visible), and the status says how it exited.
    await page.keyboard.press('F5');
    await page.locator('#dbg-status', { hasText: 'Exited with code 0' }).waitFor({ timeout: long });
    await page.locator('#dbg-console .stdout', { hasText: '<b>not bold</b> \\x1b[31mred' }).waitFor();
    assert.equal(await page.locator('#dbg-console b').count(), 0, 'program output rendered as HTML');
    assert.equal(await editor.locator('.cm-debug-line').count(), 0, 'stop still highlighted after the exit');
    assert.equal(await page.locator('#dbg-stop').isDisabled(), true);

    // Debug test: the cursor in TestDouble, a breakpoint on its if (F9);
    // the test stops there with got = 42; Shift-F5 stops the session.
    await page.click('#tree [data-path="main_test.go"]');
    const testEditor = editorOf(page, 'main_test.go');
    await testEditor.locator('.cm-content').waitFor();
    await testEditor.locator('.cm-line', { hasText: 'if got != 42' }).click();
    await page.keyboard.press('F9');
    await testEditor.locator('.cm-bp-marker').waitFor();
    await page.click('#dbg-test');
    await page.locator('#dbg-status[data-state="stopped"]', { hasText: 'main_test.go:7' }).waitFor({ timeout: long });
    await page.locator('#dbg-stack li.selected', { hasText: 'TestDouble' }).waitFor();
    await vars.locator('.var', { hasText: 'got = 42' }).waitFor();
    await page.keyboard.press('Shift+F5');
    await page.locator('#dbg-status[data-state="idle"]').waitFor({ timeout: 30_000 });
    assert.equal(await testEditor.locator('.cm-debug-line').count(), 0);

    assert.equal(await page.evaluate(() => /\/tmp\/|\/root\//.test(document.body.innerText)), false, 'host path in the page');
  });
});
