// `meshtray web` as the CLI sees it: flags tailscale has but Meshtray does not are refused with one
// line, a non-loopback --listen never starts anything, and a run prints the tokenized URL, serves
// the page, says when meshtrayd is not answering, and stops when told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../main/cli/cli.js';
import { runWebCommand } from '../../../main/web/web-command.js';

function io() {
  const o = { out: '', err: '' };
  return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s) } };
}

test('meshtray web: unsupported tailscale flags and non-loopback --listen are refused with one line, exit 2', async () => {
  for (const [args, re] of [
    [['web', '--listen=0.0.0.0:8088'], /^meshtray: --listen 0\.0\.0\.0:8088: 0\.0\.0\.0 is a non-loopback address; meshtray web serves only this machine/],
    [['web', '--listen', '192.168.1.5:80'], /non-loopback address/],
    [['web', '--listen=nas.local:80'], /not a loopback address/],
    [['web', '--cgi'], /^meshtray: web --cgi is not supported: .*CGI/],
    [['web', '--readonly'], /^meshtray: web --readonly is not supported/],
    [['web', '--prefix=/x'], /^meshtray: web --prefix is not supported/],
    [['web', '-origin=https://nas.example'], /^meshtray: web --origin is not supported/],
  ] as const) {
    const { o, io: cio } = io();
    const code = await runCli(['--socket=/nonexistent/meshtray.sock', ...args], cio);
    assert.equal(code, 2, args.join(' '));
    assert.match(o.err, re);
    assert.equal(o.err.trim().split('\n').length, 1, 'one line');
    assert.equal(o.out, '', 'nothing started, no URL printed');
  }
});

test('meshtray web run: prints the URL with the token, serves the page, says meshtrayd is not answering, stops on request', async () => {
  const dist = mkdtempSync(join(tmpdir(), 'mt-web-cmd-'));
  mkdirSync(join(dist, 'web'));
  mkdirSync(join(dist, 'renderer'));
  for (const f of ['web/index.html', 'web/web-shim.js', 'renderer/renderer.js', 'renderer/styles.css']) writeFileSync(join(dist, f), f);
  const { o, io: cio } = io();
  let stop!: () => void;
  const until = new Promise<void>((r) => (stop = r));
  // A fake dist/ (the real one is the build's): what is served is not the point here.
  const run = runWebCommand({ socketPath: '/nonexistent/meshtray.sock', listen: '127.0.0.1:0', ...cio, until, distDir: dist });
  try {
    const url = await waitForUrl(() => /\t(http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43})\n/.exec(o.out)?.[1]);
    const origin = new URL(url).origin;
    const page = await fetch(`${origin}/`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), 'web/index.html');
    assert.match(o.err, /meshtrayd does not answer on \/nonexistent\/meshtray\.sock/);
    assert.match(o.out, /Press Ctrl-C to stop\./);
    // The token is printed once, in the URL, and in no log line.
    const token = new URL(url).hash.slice('#token='.length);
    assert.equal(o.err.includes(token), false);
    stop();
    await run;
    await assert.rejects(fetch(`${origin}/`));
  } finally {
    stop();
    await run.catch(() => undefined);
    rmSync(dist, { recursive: true, force: true });
  }
});

async function waitForUrl(get: () => string | undefined): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const v = get();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no URL printed');
}
