// Browser tests of sharing, the playground page and embedding: Debian's
// Chromium driven by playwright-core against the real ideserver binary,
// with a portal page (examples/portal) on an allowed origin and a hostile
// page on another origin, both served from local ports.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, assertEventually, createFromHome, createWorkspace, repo, signIn, staticServer, useIDE, withPage } from './harness.mjs';

const token = 'sharing-test-token-0123456789abcdef';
let portal, hostile;

// The static servers start first: the IDE allows the portal's origin.
const env = useIDE(token, async () => {
  portal = await staticServer({
    '/index.html': { file: join(repo, 'examples/portal/index.html') },
    '/portal.js': { file: join(repo, 'examples/portal/portal.js') },
  });
  // The hostile site frames the IDE directly (EMB-02) and, framed by the
  // portal, posts commands to the IDE's frame (EMB-03).
  hostile = await staticServer({
    '/frame.html': '<!doctype html><title>hostile</title><iframe id="victim" name="victim"></iframe><script src="/frame.js"></script>',
    '/frame.js': "document.getElementById('victim').src = new URLSearchParams(location.search).get('ide') + '/embed/play';",
    '/attack.html': '<!doctype html><title>attack</title><script src="/attack.js"></script>',
    '/attack.js': "parent.frames[0].postMessage({ type: 'run' }, '*');",
  });
  return { IDESERVER_ALLOWED_ORIGINS: portal.origin };
});

// Registered after useIDE's: runs once the browser and the IDE are stopped.
after(async () => {
  await portal?.close();
  await hostile?.close();
});

/** The text lines of the visible CodeMirror editor of a share or playground page. */
const lines = (page) => page.locator('#page-editors .editor:not([hidden]) .cm-line').allInnerTexts();

test('share link round trip: share, open signed out, run, fork after sign-in', { timeout: 180_000 }, async () => {
  let url = '';
  await withPage(env.browser, env.ide, 'share-owner', async (page) => {
    await signIn(page, env.ide.base, token);
    await createFromHome(page, 'shared');
    await page.click('#share');
    const input = page.locator('#share-url');
    await input.waitFor({ state: 'visible' });
    url = await input.inputValue();
    assert.match(url, new RegExp(`^${env.ide.base}/s/[a-z2-7]{26}$`));
  });

  await withPage(env.browser, env.ide, 'share-viewer', async (page) => {
    await page.goto(url);
    await page.locator('#page').waitFor({ state: 'visible' });
    await page.locator('#page-tabs .tab[data-file="main.go"].active').waitFor();
    await page.locator('#page-tabs .tab[data-file="go.mod"]').waitFor();
    assert.ok((await lines(page)).some((l) => l.includes('fmt.Println("Hello, ideserver!")')));
    assert.equal(await page.locator('#page-editors .editor:not([hidden]) .cm-content').getAttribute('contenteditable'), 'false');
    await page.click('#run');
    await page.locator('#output[data-state="done"]').waitFor({ timeout: 90_000 });
    assert.match(await page.locator('#output').innerText(), /Hello, ideserver!/);
    await page.screenshot({ path: join(artifacts, 'share-page.png') });

    // Signed out, Fork says how to sign in.
    await page.click('#fork');
    await page.locator('#page-message', { hasText: 'Sign in to fork' }).waitFor();

    // Signed in (the printed URL's fragment works on any page), Fork
    // opens the new workspace's workbench. (A new document: going to the
    // same URL with only a fragment would not load the page again.)
    await page.goto('about:blank');
    await page.goto(`${url}#token=${token}`);
    await page.locator('#page').waitFor({ state: 'visible' });
    await page.click('#fork');
    await page.locator('#wb').waitFor({ state: 'visible' });
    await page.locator('#tree [data-path="main.go"]').waitFor();
    assert.match(page.url(), /\?ws=/);
  });
});

test('play page: format, examples, run on fake and real time, share as a /p/ link', { timeout: 180_000 }, async () => {
  await withPage(env.browser, env.ide, 'play', async (page) => {
    await page.goto(`${env.ide.base}/play`);
    await page.locator('#page').waitFor({ state: 'visible' });
    const content = page.locator('#page-editors .editor:not([hidden]) .cm-content');
    await content.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText('package main\nimport "fmt"\nfunc main() {\nfmt.Println("formatted-"+"run")\n}\n');
    await page.click('#fmt');
    await page.locator('#page-message', { hasText: 'Formatted.' }).waitFor();
    assert.ok((await lines(page)).includes('\tfmt.Println("formatted-" + "run")'), `not formatted: ${await lines(page)}`);

    await page.click('#run');
    await page.locator('#output[data-state="done"]').waitFor({ timeout: 90_000 });
    assert.match(await page.locator('#output').innerText(), /formatted-run/);

    // The Examples menu loads an example, which runs.
    await page.selectOption('#examples', { label: 'Generics' });
    await assertEventually(async () => (await lines(page)).includes('func Sum[T Number](values []T) T {'), 'the example in the editor');
    await page.click('#run');
    await page.locator('#output[data-state="done"]').waitFor({ timeout: 90_000 });
    assert.match(await page.locator('#output').innerText(), /popped b\n/);

    // Fake time, as on the Go Playground: the clock starts in 2009 and the
    // output after a sleep replays after it; "Real time" runs on the
    // wall clock.
    const clock = 'package main\n\nimport (\n\t"fmt"\n\t"time"\n)\n\nfunc main() {\n\tfmt.Println("year", time.Now().Year())\n\ttime.Sleep(time.Second)\n\tfmt.Println("slept")\n}\n';
    await content.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText(clock);
    await page.click('#run');
    await page.locator('#output', { hasText: 'year 2009' }).waitFor({ timeout: 90_000 });
    await page.locator('#output[data-state="done"]').waitFor({ timeout: 90_000 });
    assert.match(await page.locator('#output').innerText(), /year 2009\nslept\n/);
    await page.check('#real-time');
    await page.click('#run');
    await page.locator('#output[data-state="done"]').waitFor({ timeout: 90_000 });
    assert.match(await page.locator('#output').innerText(), new RegExp(`year ${new Date().getFullYear()}\nslept\n`));
    await page.uncheck('#real-time');
    await content.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText('package main\nimport "fmt"\nfunc main() {\nfmt.Println("formatted-"+"run")\n}\n');
    await page.click('#fmt');
    await assertEventually(async () => (await lines(page)).includes('\tfmt.Println("formatted-" + "run")'), 'formatted again');

    await page.click('#share-snippet');
    const input = page.locator('#snippet-url');
    await input.waitFor({ state: 'visible' });
    const link = await input.inputValue();
    assert.match(link, new RegExp(`^${env.ide.base}/p/[\\w-]+$`));
    await page.screenshot({ path: join(artifacts, 'play.png') });

    // The Go Playground link loads the snippet.
    await page.goto(link);
    await page.locator('#page').waitFor({ state: 'visible' });
    await assertEventually(async () => (await lines(page)).includes('\tfmt.Println("formatted-" + "run")'), 'snippet in the editor');
  });
});

test('EMB-02: a page on an origin not allowed cannot frame the IDE', { timeout: 60_000 }, async () => {
  await withPage(env.browser, env.ide, 'emb02', async (page) => {
    const refused = page.waitForEvent('console', (m) => m.text().includes('frame-ancestors'));
    await page.goto(`${hostile.origin}/frame.html?ide=${encodeURIComponent(env.ide.base)}`);
    await refused;
    const frame = page.frames().find((f) => f !== page.mainFrame());
    assert.ok(frame, 'no frame');
    // The blocked frame holds Chromium's error page, not the IDE.
    assert.equal(await page.frameLocator('#victim').locator('#status').count(), 0);
  });
});

test('EMB-03: the portal drives the embedded IDE; a hostile frame is ignored', { timeout: 120_000 }, async () => {
  await withPage(env.browser, env.ide, 'emb03', async (page) => {
    await page.goto(`${portal.origin}/index.html?ide=${encodeURIComponent(env.ide.base)}`);
    const log = page.locator('#log');
    await log.filter({ hasText: 'ready (play)' }).waitFor();
    const ideFrame = page.frameLocator('#ide');
    await ideFrame.locator('body.embed #page').waitFor({ state: 'visible' });

    // A hostile frame's command is ignored.
    await page.evaluate((src) => {
      const f = document.createElement('iframe');
      f.src = src;
      document.body.append(f);
    }, `${hostile.origin}/attack.html`);
    await ideFrame.locator('#page-message', { hasText: `Ignored a message from ${hostile.origin}.` }).waitFor();
    assert.equal(await ideFrame.locator('#output').innerText(), '');

    // The portal's is handled, and the output comes back as events.
    await page.click('#run');
    await log.filter({ hasText: 'output stdout: Hello, ideserver!' }).waitFor({ timeout: 90_000 });
    await log.filter({ hasText: 'output end:' }).waitFor();
    await page.screenshot({ path: join(artifacts, 'portal.png') });
  });
});

test('embedded workbench: open, save and run through postMessage', { timeout: 180_000 }, async () => {
  await withPage(env.browser, env.ide, 'emb-wb', async (page) => {
    // Sign in on the IDE's origin; the portal on the same site (another
    // port) frames the IDE with the Lax login cookie.
    await signIn(page, env.ide.base, token);
    const workspaceID = await createWorkspace(page, 'embedded');
    await page.goto(`${portal.origin}/index.html?ide=${encodeURIComponent(env.ide.base)}&page=/embed/ws/${workspaceID}`);
    const log = page.locator('#log');
    await log.filter({ hasText: 'ready (workbench)' }).waitFor({ timeout: 60_000 });
    const ideFrame = page.frameLocator('#ide');
    await ideFrame.locator('body.embed #wb').waitFor({ state: 'visible' });

    await page.click('#open');
    await log.filter({ hasText: 'opened' }).waitFor();
    const editor = ideFrame.locator('#editors .editor[data-uri="file:///workspace/main.go"] .cm-content');
    await editor.waitFor();
    await editor.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.insertText('\n// edited\n');
    await page.keyboard.press('Control+s');
    await log.filter({ hasText: 'saved {"source":"ideserver","type":"saved","path":"main.go"}' }).waitFor();

    await page.click('#run');
    await log.filter({ hasText: 'Hello, ideserver!' }).waitFor({ timeout: 120_000 });
    await log.filter({ hasText: 'output end:' }).waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(artifacts, 'portal-workbench.png') });
  });
});
