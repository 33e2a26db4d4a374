// The packet filter against what real Headscale sends and real tailscaled enforces: a Headscale
// policy allows only tcp/8080 to every node; a tailscaled peer (b1) reaches a1:8080 but not
// a1:8081 through tailscaled's own filter; the rules Headscale sent a1 (read from a1's netmap),
// compiled by our filter, give the same verdicts for the same packets, and count the drop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PacketFilter, localNetsFor } from '../../../main/engine/filter/filter.js';
import { PROTO, TCP_SYN } from '../../../main/engine/filter/packet.js';
import type { FilterRule } from '../../../main/engine/netmap/tailcfg.js';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';
import { pkt } from '../../unit/engine/filter/packets.js';

const POLICY = `{ "acls": [ { "action": "accept", "src": ["*"], "dst": ["*:8080"] } ] }`;

test('Headscale policy denying one port: tailscaled enforces it, our filter agrees on the same rules', { timeout: 240_000 }, async (t) => {
  await withLab(t, { derpRegions: 1, hosts: [{ name: 'a1', nat: 'easy' }, { name: 'b1', nat: 'easy' }] }, async (lab) => {
    const a1 = lab.peer('a1');
    const b1 = lab.peer('b1');
    const [a1ip] = (await a1.ip()).filter((x) => !x.includes(':'));
    const [b1ip] = (await b1.ip()).filter((x) => !x.includes(':'));
    assert.ok(a1ip && b1ip);
    // HTTP listeners on a1 (on all addresses, as a user's service would be).
    const srv = spawn('ip', ['netns', 'exec', lab.host('a1').ns, process.execPath, '-e', "for (const p of [8080, 8081]) require('http').createServer((q, s) => s.end('port ' + p)).listen(p)"], { stdio: 'ignore' });
    t.after(() => srv.kill('SIGKILL'));

    await lab.headscale.setPolicy(POLICY);
    let rules: FilterRule[] = [];
    await waitFor('a1 to receive the new packet filter', async () => {
      const r = await a1.cli(['debug', 'netmap'], 15_000);
      if (r.code !== 0) return `debug netmap: ${r.stderr.trim()}`;
      rules = ((JSON.parse(r.stdout) as { PacketFilterRules?: FilterRule[] }).PacketFilterRules ?? []) as FilterRule[];
      const ports = rules.flatMap((x) => (x.DstPorts ?? []).map((d) => `${d.Ports.First}-${d.Ports.Last}`));
      return ports.length > 0 && ports.every((p) => p === '8080-8080') ? true : `ports now ${ports.join(',')}`;
    }, { timeoutMs: 30_000 });

    const curl = async (port: number) => (await lab.exec('b1', ['curl', '-s', '--max-time', '4', `http://${a1ip}:${port}/`], 10_000));
    // tailscaled on a1 enforces Headscale's rules:
    let ok = await curl(8080);
    for (let i = 0; ok.stdout !== 'port 8080' && i < 5; i++) ok = await curl(8080); // first packets may wait for the path
    assert.equal(ok.stdout, 'port 8080');
    const denied = await curl(8081);
    assert.notEqual(denied.code, 0, 'a1:8081 must not be reachable from b1');
    assert.equal(denied.stdout, '');

    // Our filter, fed the very rules Headscale sent a1:
    const f = new PacketFilter(rules, { clock: { now: () => Date.now(), setTimeout: () => ({ cancel() {} }) }, localNets: localNetsFor([`${a1ip}/32`], [], [], []) });
    assert.deepEqual(f.compileErrors, []);
    assert.equal(f.inbound(pkt(b1ip, a1ip, PROTO.TCP, 40000, 8080, TCP_SYN)).accept, true);
    const v = f.inbound(pkt(b1ip, a1ip, PROTO.TCP, 40000, 8081, TCP_SYN));
    assert.equal(v.accept, false);
    assert.equal(!v.accept && v.reason, 'acl');
    assert.equal(f.counters().drops.acl, 1);
    // ICMP echo: allowed by both, since a rule reaches a1's address (tailscaled filter.go runIn4)
    const ping = await lab.exec('b1', ['ping', '-c', '1', '-W', '3', a1ip], 10_000);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.equal(f.inbound(pkt(b1ip, a1ip, PROTO.ICMP, 0, 0, 0, 8)).accept, true);
  });
});
