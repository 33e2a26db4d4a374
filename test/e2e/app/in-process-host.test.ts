// Issue 7's in-process host against the lab: host m1 runs NO meshtrayd. In m1's namespace the
// privileged helper (main/app/helper/helper-main) runs as root and the app host runs as uid 65534
// (nobody): the engine in-process (startInProcessEngine) + the renderer bridge, driven from a real
// Chromium window like the desktop app. Real tailscaled peers a1 (easy NAT) and x1 (public, exit
// node with approved routes) under the lab's real Headscale.
// Proves the OS side done through the helper: the TUN (opened by the helper, descriptor handed to
// the unprivileged app) carries a ping to a1; x1 as exit node makes the web host see x1's address;
// MagicDNS answers on quad-100 from the TUN and resolv.conf points at it; Disconnect restores m1's
// routes, rules and resolv.conf byte for byte; kill -9 of the app host makes the helper restore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab } from '../../lab/with-lab.js';
import { launchChromiumInNamespace, loopbackOnlyPage, skipWithoutChromium, type LaunchedBrowser } from '../renderer/browser.js';
import { repoRoot, runningCompiled } from '../renderer/paths.js';
import { waitFor } from '../renderer/real-engine.js';
import { shot } from '../renderer/support.js';

const NOBODY = 65534;
const TUN = 'meshtray0';

function entry(...parts: string[]): string[] {
  const root = repoRoot();
  const rel = join(...parts);
  return runningCompiled() ? [join(root, 'dist', rel.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', join(root, rel)];
}

class Proc {
  out = '';
  readonly exited: Promise<number | null>;
  constructor(readonly p: ChildProcess, readonly name: string) {
    p.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((r) => p.once('exit', (c) => r(c)));
  }
  tail(n = 4000): string {
    return `--- ${this.name} ---\n${this.out.slice(-n)}\n`;
  }
}

test('in-process host on m1 (no meshtrayd): the app as uid 65534 with the root helper carries traffic, exit node, MagicDNS, exact restore', { timeout: 420_000 }, async (t) => {
  if (skipWithoutChromium(t, 'in-process host lab test')) return;
  await withLab(
    t,
    {
      name: 'inproc-host',
      derpRegions: 1,
      hosts: [
        { name: 'a1', nat: 'easy' },
        { name: 'x1', nat: 'none', ipForward: true, upArgs: ['--advertise-exit-node'] },
        { name: 'm1', nat: 'easy', peer: 'none' },
      ],
    },
    async (lab) => {
      const hs = lab.headscale;
      const x1node = await hs.nodeByName('x1');
      assert.ok(x1node, 'x1 joined');
      await hs.approveRoutes(x1node.id, ['0.0.0.0/0', '::/0']);
      const web = await lab.addWebHost();
      const m1 = lab.host('m1');
      const x1 = lab.host('x1');
      const ns = m1.ns;
      const a1ip = (await lab.peer('a1').ip()).find((x) => !x.includes(':'))!;
      const inM1 = async (argv: string[], ms = 15_000) => lab.exec('m1', argv, ms);
      const resolvPath = join('/etc/netns', ns, 'resolv.conf');
      const resolvBefore = readFileSync(resolvPath);
      const kernel = async () => ({
        rules4: (await inM1(['ip', '-4', 'rule', 'show'])).stdout,
        rules6: (await inM1(['ip', '-6', 'rule', 'show'])).stdout,
        table52: (await inM1(['ip', '-4', 'route', 'show', 'table', '52'])).stdout + (await inM1(['ip', '-6', 'route', 'show', 'table', '52'])).stdout,
        iptables: (await inM1(['iptables', '-S'])).stdout + (await inM1(['iptables', '-t', 'nat', '-S'])).stdout,
      });
      const restored = (k: Awaited<ReturnType<typeof kernel>>): boolean =>
        k.table52.trim() === '' && k.rules4 === before.rules4 && k.rules6 === before.rules6 && k.iptables === before.iptables && readFileSync(resolvPath).equals(resolvBefore);
      const before = await kernel();
      assert.equal(before.table52.trim(), '', 'table 52 empty before');
      const seen = async () => (await inM1(['curl', '-s', '--max-time', '4', `http://${web.ip}/`])).stdout.trim();
      assert.equal(await seen(), m1.publicIp, 'before: straight out through m1\'s own NAT');

      // The helper's directory is root's; its socket must be reachable (SO_PEERCRED decides who may use it).
      const helperDir = mkdtempSync(join(tmpdir(), 'mt-inproc-helper-'));
      chmodSync(helperDir, 0o755);
      const appDir = mkdtempSync(join(tmpdir(), 'mt-inproc-app-'));
      chownSync(appDir, NOBODY, NOBODY);
      const sock = join(helperDir, 'helper.sock');
      let helper: Proc | undefined;
      let app: Proc | undefined;
      let chromium: LaunchedBrowser | undefined;
      try {
        helper = new Proc(
          spawn('ip', ['netns', 'exec', ns, process.execPath, ...entry('main', 'app', 'helper', 'helper-main.ts'), '--socket', sock, '--state-file', join(helperDir, 'router-state.json'), '--allow-uid', String(NOBODY)], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] }),
          'helper (root)',
        );
        const hp = helper;
        await waitFor('helper listening', () => (hp.out.includes('helper listening') ? true : undefined), 30_000);

        const startApp = (): Proc => {
          const p = spawn(
            'ip',
            ['netns', 'exec', ns, 'setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, ...entry('test', 'e2e', 'renderer', 'bridge-inproc-main.ts'), '--state-dir', appDir, '--helper-socket', sock, '--tun', TUN],
            { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: appDir } },
          );
          return new Proc(p, 'app host (uid 65534)');
        };
        app = startApp();
        const ap = app;
        const url = await waitFor('bridge URL', () => /^bridge (\S+)$/m.exec(ap.out)?.[1], 90_000);
        assert.match(ap.out, /^carries-traffic true$/m, 'the app host got the helper');
        // The engine really runs as nobody.
        const uid = (await inM1(['ps', '-o', 'uid=', '-p', String(ap.p.pid)])).stdout.trim();
        assert.equal(uid, String(NOBODY), 'app host runs as uid 65534');

        chromium = await launchChromiumInNamespace(ns);
        const page = await loopbackOnlyPage(chromium.browser);
        await page.goto(url);

        // Sign in from the window; the admin approves the AuthURL.
        await page.getByLabel('Login server').fill(lab.loginServer);
        await page.getByRole('button', { name: 'Check server' }).click();
        await page.getByTestId('server-check').getByText('is a reachable control server').waitFor({ timeout: 20_000 });
        await page.getByRole('button', { name: 'Log in' }).click();
        const authURL = await waitFor('AuthURL', () => /^open (\S+)$/m.exec(ap.out)?.[1], 60_000);
        await hs.registerAuthId(new URL(authURL).pathname.split('/').filter(Boolean).at(-1)!, lab.user.name);
        await waitFor('Connected', async () => ((await page.getByTestId('connection-state').innerText()) === 'Connected' ? true : undefined), 60_000);
        await page.locator('[data-peer-name="a1"]').waitFor({ timeout: 30_000 });
        await page.locator('[data-peer-name="x1"]').waitFor({ timeout: 30_000 });
        await shot(page, 'inproc-1-connected');

        // The TUN the helper opened, configured by the helper's router, carrying the app's WireGuard.
        const link = (await inM1(['ip', '-d', 'link', 'show', 'dev', TUN])).stdout;
        assert.match(link, /\btun\b/, `${TUN} is a TUN: ${link}`);
        await waitFor('TUN has our tailnet address', async () => (/inet 100\.\d+\.\d+\.\d+\/32/.test((await inM1(['ip', '-4', 'addr', 'show', 'dev', TUN])).stdout) ? true : undefined), 30_000);
        await waitFor('ping a1 through the TUN', async () => ((await inM1(['ping', '-c1', '-W2', a1ip], 10_000)).code === 0 ? true : undefined), 60_000, 500);
        assert.match((await inM1(['ip', '-4', 'rule', 'show'])).stdout, /lookup 52/, 'policy rule to table 52');
        // The kernel ACL, compiled by the helper from the netmap's packet filter the app sent.
        assert.match((await inM1(['iptables', '-S'])).stdout, /^-N mt-acl/m, 'kernel ACL chains installed');
        // The shared UDP socket carries the bypass mark (set by the helper: the app cannot).
        const ss = (await inM1(['ss', '-uanpe'])).stdout;
        assert.match(ss, new RegExp(`pid=${ap.p.pid},.*fwmark:0x80000`), `the app's UDP socket has the bypass mark:\n${ss}`);

        // MagicDNS: resolv.conf points at quad-100 (the helper wrote it), answered from the TUN.
        await waitFor('resolv.conf points at quad-100', () => (/^nameserver 100\.100\.100\.100$/m.test(readFileSync(resolvPath, 'utf8')) ? true : undefined), 30_000);
        await waitFor('getent hosts a1', async () => (new RegExp(`^${a1ip.replace(/\./g, '\\.')}\\s+a1\\.`).test((await inM1(['getent', 'hosts', 'a1'])).stdout) ? true : undefined), 30_000, 500);
        const dig = (await inM1(['dig', '+short', '+time=2', '+tries=2', '@100.100.100.100', 'a1.tailnet.test'])).stdout.trim();
        assert.equal(dig, a1ip, 'dig @100.100.100.100');

        // Exit node x1 picked in the window: the web host now sees x1's address.
        await page.getByRole('button', { name: 'Exit node' }).click();
        await page.getByRole('radio', { name: /^x1/ }).click();
        await waitFor('UI exit node', async () => ((await page.getByTestId('connection-state').innerText()).includes('using an exit node') ? true : undefined), 20_000);
        await waitFor('web host sees x1', async () => ((await seen()) === x1.publicIp ? true : undefined), 45_000, 500);
        await shot(page, 'inproc-2-exit-node');
        // Control stays reachable with the exit node on (control traffic is kept off the tunnel).
        assert.equal((await inM1(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '4', `${lab.loginServer}/health`])).stdout, '200', 'control reachable');

        // Disconnect: routes, rules and resolv.conf exactly as before.
        await page.getByRole('button', { name: 'Disconnect' }).click();
        await waitFor('Disconnected', async () => ((await page.getByTestId('connection-state').innerText()).startsWith('Disconnected') ? true : undefined), 30_000);
        await waitFor('restored after Disconnect', async () => (restored(await kernel()) ? true : undefined), 30_000, 300);
        assert.deepEqual(await kernel(), before);
        assert.deepEqual(readFileSync(resolvPath), resolvBefore, 'resolv.conf byte for byte');
        assert.equal(await seen(), m1.publicIp, 'straight out again');
        await shot(page, 'inproc-3-disconnected');

        // Connect again (a new TUN from the helper), then kill -9 the app: the helper restores.
        await page.getByRole('button', { name: 'Connect', exact: true }).click();
        // (kill -9 of the app host below: the helper must restore on its own)
        await waitFor('Connected again', async () => ((await page.getByTestId('connection-state').innerText()).startsWith('Connected') ? true : undefined), 60_000);
        await waitFor('ping a1 again', async () => ((await inM1(['ping', '-c1', '-W2', a1ip], 10_000)).code === 0 ? true : undefined), 60_000, 500);
        await waitFor('resolv.conf ours again', () => (/100\.100\.100\.100/.test(readFileSync(resolvPath, 'utf8')) ? true : undefined), 30_000);
        assert.notEqual((await kernel()).table52.trim(), '');
        await chromium.close();
        chromium = undefined;
        ap.p.kill('SIGKILL');
        await ap.exited;
        app = undefined;
        await waitFor('helper restored after the app was killed', async () => (restored(await kernel()) ? true : undefined), 30_000, 300);
        assert.deepEqual(await kernel(), before, 'routes, rules and firewall as before the app came');
        assert.deepEqual(readFileSync(resolvPath), resolvBefore, 'resolv.conf byte for byte after the crash');
        assert.equal((await inM1(['ip', 'link', 'show', 'dev', TUN])).code !== 0, true, 'the TUN is gone');
        assert.match(hp.out, /app session ended/);

        // The app starts again after the crash (same state: still logged in, WantRunning): the
        // helper hands it a fresh TUN and traffic flows. Then Log out from the window restores.
        app = startApp();
        const ap2 = app;
        const url2 = await waitFor('bridge URL after restart', () => /^bridge (\S+)$/m.exec(ap2.out)?.[1], 90_000);
        chromium = await launchChromiumInNamespace(ns);
        const page2 = await loopbackOnlyPage(chromium.browser);
        await page2.goto(url2);
        await waitFor('Connected after restart', async () => ((await page2.getByTestId('connection-state').innerText()).startsWith('Connected') ? true : undefined), 60_000);
        await waitFor('ping a1 after restart', async () => ((await inM1(['ping', '-c1', '-W2', a1ip], 10_000)).code === 0 ? true : undefined), 60_000, 500);
        await page2.getByRole('button', { name: 'Account' }).click();
        await page2.getByRole('button', { name: 'Log out' }).click();
        await waitFor('Logged out', async () => ((await page2.getByTestId('connection-state').innerText()).startsWith('Logged out') ? true : undefined), 30_000);
        await waitFor('restored after Log out', async () => (restored(await kernel()) ? true : undefined), 30_000, 300);
        assert.deepEqual(await kernel(), before);
        assert.deepEqual(readFileSync(resolvPath), resolvBefore, 'resolv.conf byte for byte after Log out');
        await shot(page2, 'inproc-4-logged-out');
        await chromium.close();
        chromium = undefined;
        ap2.p.kill('SIGTERM');
        assert.equal(await ap2.exited, 0, 'the app host exits cleanly');
        app = undefined;

        // The helper itself stops cleanly.
        hp.p.kill('SIGTERM');
        assert.equal(await hp.exited, 0);
        helper = undefined;
      } catch (e) {
        process.stderr.write((app?.tail() ?? '') + (helper?.tail() ?? ''));
        throw e;
      } finally {
        await chromium?.close();
        app?.p.kill('SIGKILL');
        helper?.p.kill('SIGTERM');
        if (helper) await Promise.race([helper.exited, new Promise((r) => setTimeout(r, 5_000))]);
        helper?.p.kill('SIGKILL');
        rmSync(helperDir, { recursive: true, force: true });
        rmSync(appDir, { recursive: true, force: true });
      }
    },
  );
});
