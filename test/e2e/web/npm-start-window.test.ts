// `npm start` (test/lab/cli.ts up) prints the Meshtray window's URL next to the `meshtray status`
// hint; a browser on this machine opening it sees m1's peers; Ctrl-C takes the window down with
// the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { skipUnlessLab } from '../../lab/with-lab.js';
import { launchChromium, loopbackOnlyPage, skipWithoutChromium, type LaunchedBrowser } from '../renderer/browser.js';
import { waitFor } from '../renderer/real-engine.js';
import { shot } from '../renderer/support.js';

test('npm start: prints "window: http://127.0.0.1:PORT/#token=…"; Chromium there sees a1 and b1 from m1; Ctrl-C closes it', { timeout: 180_000 }, async (t) => {
  if (skipUnlessLab(t) || skipWithoutChromium(t, 'npm start window test')) return;
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const cli = fileURLToPath(new URL(`../../lab/cli.${ext}`, import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, cli, 'up'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  let chromium: LaunchedBrowser | undefined;
  try {
    await waitFor('npm start ready', () => (out.includes('Press Ctrl-C') ? true : undefined), 150_000, 200);
    const url = /^ {2}window: (http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43})$/m.exec(out)?.[1];
    assert.ok(url, `the window line is printed:\n${out}`);
    // Next to the status hint, after the table.
    assert.ok(out.indexOf('window: ') > out.indexOf('--socket=') && out.indexOf('window: ') > out.indexOf('m1   meshtrayd'), out);
    const origin = new URL(url).origin;
    assert.equal((await fetch(`${origin}/events?stream=app`)).status, 403, 'no token, no stream');
    chromium = await launchChromium();
    const pg = await loopbackOnlyPage(chromium.browser);
    await pg.goto(url);
    await waitFor('Connected', async () => ((await pg.getByTestId('connection-state').innerText().catch(() => '')) === 'Connected' ? true : undefined), 60_000);
    for (const n of ['a1', 'b1']) await pg.locator(`[data-peer-name="${n}"]`).waitFor({ timeout: 30_000 });
    await shot(pg, 'web-04-npm-start-window');
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    await assert.rejects(fetch(`${origin}/`), 'the window went with the lab');
  } catch (e) {
    process.stderr.write(`--- npm start output ---\n${out.slice(-3000)}\n`);
    throw e;
  } finally {
    await chromium?.close();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await exited;
  }
});
