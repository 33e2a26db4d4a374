// Issue 6 through the product: a REAL meshtrayd driven by the meshtray CLI in a lab namespace, next
// to REAL tailscaled v1.98.10 peers under REAL Headscale v0.29.2, following tailscale's docs:
//   MagicDNS — dig @100.100.100.100 FQDN / PTR (UDP and TCP); `set --accept-dns` points the
//     namespace's resolv.conf at quad-100 (short names resolve through the search domain);
//   exit node — `set --exit-node=exit`: the web host sees the exit node's address; bad names and
//     non-exit peers give one clear line and a non-zero exit with the routing table unchanged;
//     `set --exit-node=` goes direct again; the control server stays reachable throughout;
//   LAN access — own LAN unreachable through the exit node, reachable with
//     --exit-node-allow-lan-access; the exit node's… sr's LAN needs the approved route + --accept-routes;
//   packet filter — a Headscale policy allowing only :8080: t1 reaches :8080 on m1 but not :8081,
//     the drop shows in `meshtray debug metrics`;
//   why — `meshtray why` (text and --json) for each case;
//   down — routes, rules, iptables and resolv.conf (byte for byte) restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peerByHostName } from '../../lab/peer-output.js';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';
import { approveExitNode, digQuad100, EXIT_IP, httpFrom, issue6Hosts, ONLY_8080_POLICY, startPortServers, webSeenFrom } from '../support/os-scenarios.js';

interface Why { verdict: string; text: string; node?: { name: string }; prefix?: string; path?: { kind: string } }

test('issue 6 through meshtrayd + meshtray CLI with real tailscaled peers', { timeout: 480_000 }, async (t) => {
  await withLab(
    t,
    { name: 'os-daemon', derpRegions: 1, hosts: issue6Hosts('meshtrayd') },
    async (lab) => {
      const hs = lab.headscale;
      const m1 = lab.host('m1');
      const mt = lab.peer('m1');
      const web = await lab.addWebHost();
      const resolvPath = join('/etc/netns', m1.ns, 'resolv.conf');
      const resolvBefore = readFileSync(resolvPath);
      const inM1 = (argv: string[], ms = 15_000) => lab.exec('m1', argv, ms);
      /** `meshtray <args>` as the user types it. */
      const cli = async (args: string[], ms = 30_000) => {
        const r = await mt.cli(args, ms);
        return { code: r.code, out: r.stdout, err: r.stderr };
      };
      const ok = async (args: string[], ms?: number) => {
        const r = await cli(args, ms);
        assert.equal(r.code, 0, `meshtray ${args.join(' ')}: ${r.err || r.out}`);
        return r.out;
      };
      const why = async (dest: string): Promise<Why> => JSON.parse(await ok(['why', '--json', dest])) as Why;
      const prefs = async () => JSON.parse(await ok(['debug', 'prefs'])) as Record<string, unknown>;
      const table52 = async () => (await inM1(['ip', 'route', 'show', 'table', '52'])).stdout + (await inM1(['ip', '-6', 'route', 'show', 'table', '52'])).stdout;

      const t1 = lab.peer('t1');
      await t1.waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 60_000);
      const t1ip = (await t1.ip()).find((x) => !x.includes(':'))!;
      const m1ip = (await mt.ip()).find((x) => !x.includes(':'))!;

      // ---- MagicDNS: quad-100 answers on real sockets in m1's namespace ----
      const dig = (args: string[]) => digQuad100(lab, 'm1', args);
      await waitFor('quad-100 answers t1', async () => (await dig(['t1.tailnet.test'])) === t1ip || 'not yet', { timeoutMs: 30_000, intervalMs: 300 });
      assert.equal(await dig(['-x', t1ip]), 't1.tailnet.test.', 'PTR');
      assert.equal(await dig(['+tcp', 't1.tailnet.test']), t1ip, 'TCP');
      // --accept-dns=false (the lab's `up`): the OS resolver is untouched
      assert.deepEqual(readFileSync(resolvPath), resolvBefore);
      await ok(['set', '--accept-dns']);
      assert.equal((await prefs())['CorpDNS'], true);
      await waitFor('resolv.conf points at quad-100', async () => /nameserver 100\.100\.100\.100/.test(readFileSync(resolvPath, 'utf8')) || readFileSync(resolvPath, 'utf8'), { timeoutMs: 10_000, intervalMs: 200 });
      assert.match((await inM1(['getent', 'hosts', 't1'])).stdout, new RegExp(`^${t1ip.replace(/\./g, '\\.')}\\s+t1\\.tailnet\\.test`), 'short name via the search domain');
      const wDNS = await why('100.100.100.100');
      assert.equal(wDNS.verdict, 'magicdns');
      const wPeer = await why('t1');
      assert.equal(wPeer.verdict, 'peer');
      assert.equal(wPeer.node?.name, 't1');
      assert.match(await ok(['why', 't1']), /t1/);

      // ---- exit node: bad input first (one line, non-zero, table unchanged) ----
      const seen = () => webSeenFrom(lab, 'm1', web);
      assert.equal(await seen(), m1.publicIp, 'before: straight out through our own NAT');
      const before52 = await table52();
      const notExit = await cli(['set', '--exit-node=t1']);
      assert.notEqual(notExit.code, 0);
      assert.match(notExit.err, /^t1 is not offering an exit node/);
      assert.equal(notExit.err.trim().split('\n').length, 1, notExit.err);
      const noSuch = await cli(['set', '--exit-node=nosuch']);
      assert.notEqual(noSuch.code, 0);
      assert.match(noSuch.err, /^no peer named or addressed "nosuch"/);
      assert.equal(noSuch.err.trim().split('\n').length, 1, noSuch.err);
      assert.equal(await table52(), before52, 'routing table unchanged after refused input');
      assert.equal((await prefs())['ExitNodeID'], '');

      await approveExitNode(hs, 'exit');
      await waitFor('exit offers itself', async () => {
        const r = await cli(['set', '--exit-node=exit']);
        return r.code === 0 || r.err.trim();
      }, { timeoutMs: 90_000, intervalMs: 1000 });
      const exitID = (await prefs())['ExitNodeID'];
      assert.ok(typeof exitID === 'string' && exitID !== '', 'StableID stored');
      const st = JSON.parse(await ok(['status', '--json'])) as { Prefs?: Record<string, unknown>; Peer: Record<string, { HostName: string; ExitNode: boolean }> };
      assert.equal(st.Prefs?.['ExitNodeID'], exitID, 'status --json mirrors prefs');
      assert.equal(Object.values(st.Peer).find((p) => p.HostName === 'exit')?.ExitNode, true);
      await waitFor('web sees the exit node', async () => (await seen()) === EXIT_IP || `web saw ${await seen()}`, { timeoutMs: 30_000, intervalMs: 500 });
      assert.equal((await inM1(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '4', `${lab.loginServer}/health`])).stdout, '200', 'control reachable');
      // `meshtray status` (text) shows the exit node in use on its line, as `tailscale status` does
      // ("active; exit node; direct …" once traffic flows through it), and the health warnings last.
      let statusText = '';
      await waitFor('status text: exit is the active exit node', async () => {
        statusText = await ok(['status']);
        return /^\S+\s+exit\s+\S+\s+\S+\s+active; exit node; (direct \S+|relay "\S+")/m.test(statusText) || statusText;
      }, { timeoutMs: 20_000, intervalMs: 500 });
      t.diagnostic(`meshtray status:\n${statusText}`);
      const stNow = JSON.parse(await ok(['status', '--json'])) as { Health: string[] | null };
      if (stNow.Health?.length) assert.match(statusText, /\n# Health check:\n(#     - .+\n)+$/, 'health warnings at the end');
      else assert.doesNotMatch(statusText, /# Health check/);
      if (process.env['MESHTRAY_RECORD_STATUS']) writeFileSync(process.env['MESHTRAY_RECORD_STATUS'], JSON.stringify(stNow, null, 2) + '\n');
      const w1 = await why(web.ip);
      assert.deepEqual([w1.verdict, w1.node?.name], ['exit-node', 'exit']);
      assert.ok(w1.path && w1.path.kind !== 'unknown', `path from magicsock: ${JSON.stringify(w1.path)}`);
      const whyText = await ok(['why', web.ip]);
      t.diagnostic(`meshtray why ${web.ip}: ${whyText.trim()}`);
      assert.match(whyText, /exit/);

      // ---- LAN access ----
      const lanGw = `${m1.router!.lanPrefix}.1`;
      const ping = async (ip: string) => (await inM1(['ping', '-c', '1', '-W', '2', ip])).code;
      assert.notEqual(await ping(lanGw), 0, 'own LAN unreachable through the exit node without allow-LAN-access');
      assert.equal((await why(lanGw)).verdict, 'exit-node');
      await ok(['set', '--exit-node-allow-lan-access']);
      await waitFor('own LAN reachable with allow-LAN-access', async () => (await ping(lanGw)) === 0, { timeoutMs: 10_000, intervalMs: 300 });
      assert.equal((await why(lanGw)).verdict, 'local-lan');
      const lanhost = lab.host('lanhost').ip;
      assert.notEqual(await ping(lanhost), 0, "sr's LAN is not reachable through the exit node alone");
      await hs.approveRoutes((await hs.nodeByName('sr'))!.id, ['10.20.0.0/24']);
      await ok(['set', '--accept-routes']);
      await waitFor('lanhost through sr', async () => (await ping(lanhost)) === 0, { timeoutMs: 45_000, intervalMs: 500 });
      const w2 = await why(lanhost);
      assert.deepEqual([w2.verdict, w2.node?.name, w2.prefix], ['subnet-router', 'sr', '10.20.0.0/24']);
      t.diagnostic(`meshtray why ${lanhost}: ${w2.text}`);

      // cleared: direct again
      await ok(['set', '--exit-node=']);
      assert.equal((await prefs())['ExitNodeID'], '');
      await waitFor('web sees our NAT again', async () => (await seen()) === m1.publicIp || `web saw ${await seen()}`, { timeoutMs: 20_000, intervalMs: 500 });
      assert.equal((await why(web.ip)).verdict, 'not-routed');

      // ---- acting as an exit node: --advertise-exit-node → Hostinfo.RoutableIPs → Headscale ----
      await ok(['set', '--advertise-exit-node']);
      assert.deepEqual((await prefs())['AdvertiseRoutes'], ['0.0.0.0/0', '::/0']);
      await waitFor('Headscale sees m1 offering an exit node', async () => {
        const n = await hs.nodeByName('m1');
        return (n?.available_routes ?? []).includes('0.0.0.0/0') || `available: ${JSON.stringify(n?.available_routes)}`;
      }, { timeoutMs: 20_000, intervalMs: 500 });
      await approveExitNode(hs, 'm1');
      await waitFor('t1 uses m1 as its exit node', async () => {
        const r = await t1.cli(['set', '--exit-node=m1']);
        return r.code === 0 || r.stderr.trim();
      }, { timeoutMs: 60_000, intervalMs: 1000 });
      const seenFromT1 = () => webSeenFrom(lab, 't1', web);
      await waitFor("t1's web traffic leaves from m1", async () => (await seenFromT1()) === m1.publicIp || `web saw ${await seenFromT1()}`, { timeoutMs: 30_000, intervalMs: 500 });
      assert.equal((await t1.cli(['set', '--exit-node='])).code, 0);

      // ---- packet filter from a Headscale policy ----
      startPortServers(t, lab, 'm1', [8080, 8081]);
      await hs.setPolicy(ONLY_8080_POLICY);
      const curl = (port: number) => httpFrom(lab, 't1', `${m1ip}:${port}`);
      await waitFor('t1 reaches m1:8080', async () => (await curl(8080)) === 'port 8080' || 'not yet', { timeoutMs: 30_000, intervalMs: 500 });
      const drops = async () => Number(/^filter_dropped_acl (\d+)$/m.exec(await ok(['debug', 'metrics']))?.[1] ?? NaN);
      const d0 = await drops();
      assert.ok(Number.isFinite(d0), 'debug metrics shows filter_dropped_acl');
      await waitFor('m1 enforces the policy', async () => (await curl(8081)) === '' || 'still open', { timeoutMs: 30_000, intervalMs: 500 });
      assert.equal(await curl(8080), 'port 8080');
      const d1 = await drops();
      assert.ok(d1 > d0, `drop counted: ${d0} -> ${d1}`);
      t.diagnostic(`filter_dropped_acl ${d0} -> ${d1}; set --exit-node=t1 said: ${notExit.err.trim()}`);

      // ---- down restores the OS ----
      await ok(['down']);
      await waitFor('resolv.conf restored', async () => readFileSync(resolvPath).equals(resolvBefore) || 'not yet', { timeoutMs: 10_000, intervalMs: 200 });
      assert.deepEqual(readFileSync(resolvPath), resolvBefore, 'resolv.conf byte for byte');
      assert.doesNotMatch((await inM1(['ip', 'rule', 'show'])).stdout, /lookup 52/);
      assert.doesNotMatch((await inM1(['iptables-save'])).stdout, /mt-/);
      assert.equal((await table52()).trim(), '');
    },
  );
});
