// Issue 6's scenarios, as a user would follow tailscale's docs, with a Meshtray node (os-agent.ts:
// the engine's parts wired through OSIntegration) and REAL tailscaled peers under real Headscale:
//   exit node — traffic to an "internet" host leaves from the exit node, and directly again when
//     cleared; the control server stays reachable throughout;
//   LAN access — with an exit node, our own LAN is unreachable without allow-LAN-access and
//     reachable with it; the exit node's LAN needs its subnet route approved and accept-routes;
//   MagicDNS — dig @100.100.100.100 (through the TUN) and the OS resolver answer peer names, PTR;
//     down restores resolv.conf byte for byte;
//   packet filter — a Headscale policy allowing one port: a tailscaled peer reaches that port on
//     our node, not another one, and the drop is counted;
//   why — answers from the installed table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from './agent-driver.js';
import { peerByHostName } from '../../lab/peer-output.js';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';
import { approveExitNode, digQuad100, EXIT_IP, httpFrom, issue6Hosts, ONLY_8080_POLICY, startPortServers, webSeenFrom } from '../support/os-scenarios.js';

test('issue 6 scenarios with a Meshtray node and real tailscaled peers', { timeout: 420_000 }, async (t) => {
  await withLab(
    t,
    { derpRegions: 1, hosts: issue6Hosts('none') },
    async (lab) => {
      const hs = lab.headscale;
      const m1 = lab.host('m1');
      const web = await lab.addWebHost();
      const resolvBefore = readFileSync(join('/etc/netns', m1.ns, 'resolv.conf'));
      // quad-100 as a loopback address with real sockets (UDP and TCP); exit-node-side.test.ts
      // covers the TUN-intercept path.
      const agent = Agent.start(lab, 'm1', await lab.authKey(), { quad100: 'local' });
      t.after(() => agent.stop());
      const ready = await agent.wait((e) => e.event === 'ready', 90_000, 'agent ready');
      const m1ip = (ready['addresses'] as string[]).find((a) => !a.includes(':'))!.split('/')[0]!;
      const inM1 = (argv: string[], ms = 15_000) => lab.exec('m1', argv, ms);
      const t1 = lab.peer('t1');
      await t1.waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 60_000);
      const t1ip = (await t1.ip()).find((x) => !x.includes(':'))!;

      // ---- MagicDNS through the TUN intercept, and the OS resolver ----
      assert.match(readFileSync(join('/etc/netns', m1.ns, 'resolv.conf'), 'utf8'), /nameserver 100\.100\.100\.100/);
      const dig = (args: string[]) => digQuad100(lab, 'm1', args);
      await waitFor('quad-100 answers t1', async () => (await dig(['t1.tailnet.test'])) === t1ip || 'not yet', { timeoutMs: 20_000, intervalMs: 300 });
      assert.equal(await dig(['-x', t1ip]), 't1.tailnet.test.');
      assert.equal(await dig(['+tcp', 't1.tailnet.test']), t1ip, 'TCP');
      assert.equal(await dig(['svc.tailnet.test']), '100.64.0.50', 'Headscale extra record');
      assert.match((await inM1(['getent', 'hosts', 't1'])).stdout, new RegExp(`^${t1ip.replace(/\./g, '\\.')}\\s+t1\\.tailnet\\.test`), 'OS resolver + search domain');

      // ---- exit node ----
      const seen = () => webSeenFrom(lab, 'm1', web);
      assert.equal(await seen(), m1.publicIp, 'before: straight out through our own NAT');
      // a peer that is no exit node: a clear error, nothing changes
      await assert.rejects(agent.call({ cmd: 'set', exitNode: 't1' }, 'set'), (e: Error & { code?: string }) => e.code === 'ERR_NOT_EXIT_NODE');
      await assert.rejects(agent.call({ cmd: 'set', exitNode: 'nosuch' }, 'set'), (e: Error & { code?: string }) => e.code === 'ERR_NO_SUCH_PEER');
      await approveExitNode(hs, 'exit');
      await waitFor('exit offers itself', async () => {
        try {
          await agent.call({ cmd: 'set', exitNode: 'exit' }, 'set');
          return true;
        } catch (e) {
          return (e as Error).message;
        }
      }, { timeoutMs: 90_000, intervalMs: 500 });
      await waitFor('web sees the exit node', async () => (await seen()) === EXIT_IP || `web saw ${await seen()}`, { timeoutMs: 30_000, intervalMs: 500 });
      // the control server stays reachable (its address is kept off the tunnel)
      assert.equal((await inM1(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '4', `${lab.loginServer}/health`])).stdout, '200');
      // DNS under the exit node goes to the exit node's peerapi DoH (our own resolver, 127.0.0.1 in
      // m1's namespace, has nothing behind it; the exit node's namespace resolver does).
      const here = fileURLToPath(import.meta.url);
      const ext = here.endsWith('.ts') ? 'ts' : 'js';
      const up = spawn('ip', ['netns', 'exec', lab.host('exit').ns, process.execPath, ...(ext === 'ts' ? ['--import', 'tsx'] : []), join(here, '..', '..', '..', 'bench', `dns-upstream.${ext}`), '127.0.0.1', '53'], { stdio: 'ignore' });
      t.after(() => up.kill('SIGKILL'));
      await waitFor('www.example.com resolves through the exit node', async () => (await inM1(['dig', '+short', '+time=3', '+tries=1', '@100.100.100.100', 'www.example.com'])).stdout.trim() === '203.0.113.10' || 'not yet', { timeoutMs: 20_000, intervalMs: 500 });
      const w1 = (await agent.call({ cmd: 'why', dest: web.ip }, 'why'))['answer'] as { verdict: string; node?: { name: string } };
      assert.equal(w1.verdict, 'exit-node');
      assert.equal(w1.node?.name, 'exit');

      // ---- LAN access (our LAN = the NAT router's LAN, its gateway at .1) ----
      const lanGw = `${m1.router!.lanPrefix}.1`;
      const ping = async (ip: string) => (await inM1(['ping', '-c', '1', '-W', '2', ip])).code;
      assert.notEqual(await ping(lanGw), 0, 'own LAN unreachable through the exit node without allow-LAN-access');
      assert.equal(((await agent.call({ cmd: 'why', dest: lanGw }, 'why'))['answer'] as { verdict: string }).verdict, 'exit-node');
      await agent.call({ cmd: 'set', prefs: { ExitNodeAllowLANAccess: true } }, 'set');
      await waitFor('own LAN reachable with allow-LAN-access', async () => (await ping(lanGw)) === 0, { timeoutMs: 10_000, intervalMs: 300 });
      assert.equal(((await agent.call({ cmd: 'why', dest: lanGw }, 'why'))['answer'] as { verdict: string }).verdict, 'local-lan');
      // the exit node's LAN: not through the exit node alone…
      const lanhost = lab.host('lanhost').ip;
      assert.notEqual(await ping(lanhost), 0, "the exit node's… rather sr's LAN is not reachable without its route");
      // …but once sr's subnet route is approved and we accept routes
      await hs.approveRoutes((await hs.nodeByName('sr'))!.id, ['10.20.0.0/24']);
      await agent.call({ cmd: 'set', prefs: { RouteAll: true } }, 'set');
      await waitFor('lanhost through sr', async () => {
        await agent.call({ cmd: 'set', prefs: {} }, 'set');
        return (await ping(lanhost)) === 0;
      }, { timeoutMs: 30_000, intervalMs: 500 });
      const w2 = (await agent.call({ cmd: 'why', dest: lanhost }, 'why'))['answer'] as { verdict: string; node?: { name: string }; prefix?: string };
      assert.deepEqual([w2.verdict, w2.node?.name, w2.prefix], ['subnet-router', 'sr', '10.20.0.0/24']);

      // cleared: direct again
      await agent.call({ cmd: 'set', exitNode: '' }, 'set');
      await waitFor('web sees our NAT again', async () => (await seen()) === m1.publicIp || `web saw ${await seen()}`, { timeoutMs: 20_000, intervalMs: 500 });

      // ---- packet filter from a Headscale policy ----
      startPortServers(t, lab, 'm1', [8080, 8081]);
      await hs.setPolicy(ONLY_8080_POLICY);
      const curl = (port: number) => httpFrom(lab, 't1', `${m1ip}:${port}`);
      await waitFor('t1 reaches m1:8080', async () => (await curl(8080)) === 'port 8080' || 'not yet', { timeoutMs: 30_000, intervalMs: 500 });
      const before = ((await agent.call({ cmd: 'acl' }, 'acl'))['drops'] as { acl: number }).acl;
      // wait until the new filter is installed on m1 (8081 stops answering), then count
      await waitFor('m1 enforces the policy', async () => (await curl(8081)) === '' || 'still open', { timeoutMs: 30_000, intervalMs: 500 });
      assert.equal(await curl(8080), 'port 8080');
      const after = ((await agent.call({ cmd: 'acl' }, 'acl'))['drops'] as { acl: number }).acl;
      assert.ok(after > before, `drop counted: ${before} -> ${after}`);

      // ---- down restores the OS ----
      await agent.call({ cmd: 'down' }, 'down');
      assert.deepEqual(readFileSync(join('/etc/netns', m1.ns, 'resolv.conf')), resolvBefore, 'resolv.conf byte for byte');
      assert.doesNotMatch((await inM1(['ip', 'rule', 'show'])).stdout, /lookup 52/);
      assert.doesNotMatch((await inM1(['iptables-save'])).stdout, /mt-/);
    },
  );
});
