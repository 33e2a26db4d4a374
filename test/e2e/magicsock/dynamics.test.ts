// Path changes under real conditions, Meshtray (magicsock agent) ↔ REAL tailscaled v1.98.10 with
// real derper and Headscale: a DERP path upgrading to direct when a UDP block is lifted, without
// dropping a running TCP connection; a derper killed while direct (traffic goes on) and restarted
// (DERP comes back); 5 % random loss; and the JS-crossing counter staying at the disco level
// while a bulk transfer runs on the direct path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../lab/with-lab.js';
import { peerByHostName } from '../../lab/peer-output.js';
import { runOk } from '../../lab/exec.js';
import { icmpUntil, run, startAgent, tailscaleIPv4, tcpTransfer } from './agent-harness.js';

const MiB = 1024 * 1024;

test('DERP → direct when the UDP block is lifted, and the running TCP connection survives', { timeout: 300_000 }, async (t) => {
  await withLab(t, { name: 'ms-upgrade', derpRegions: 1, hosts: [{ name: 't1', nat: 'easy' }, { name: 'm1', nat: 'udp-blocked', peer: 'none' }] }, async (lab) => {
    const { agent, ip: mIp } = await startAgent(lab, 'm1');
    try {
      const tIp = await tailscaleIPv4(lab, 't1');
      await lab.peer('t1').waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 60_000);
      assert.equal((await icmpUntil(lab.host('m1').ns, tIp, 60_000)).code, 0);
      const first = await agent.ping(tIp);
      assert.ok(first && !first.endpoint && first.derpRegionCode === 'lab1', `starts on DERP: ${JSON.stringify(first)}`);

      // A paced 16 MiB stream (~25 s) runs across the change.
      const stream = tcpTransfer(lab.host('t1').ns, tIp, lab.host('m1').ns, 16 * MiB, 5602, 180_000, 100);
      await new Promise((r) => setTimeout(r, 4000));
      const router = lab.host('m1').router!.ns;
      await runOk(['iptables', '-w', '-D', 'FORWARD', '-i', 'lan0', '-o', 'eth0', '-p', 'udp', '-j', 'DROP'], { ns: router });
      t.diagnostic('UDP block lifted');
      const t0 = Date.now();
      let direct: string | undefined;
      while (!direct && Date.now() - t0 < 60_000) {
        const p = await agent.ping(tIp);
        if (p?.endpoint) direct = p.endpoint;
        else await new Promise((r) => setTimeout(r, 1000));
      }
      assert.ok(direct, 'path upgraded to direct within 60 s');
      t.diagnostic(`direct after ${Date.now() - t0} ms via ${direct}`);
      const x = await stream;
      assert.equal(x.receivedBytes, 16 * MiB, 'the TCP connection was not dropped');
      assert.equal(x.received, x.sent);
      const peers = await agent.peers();
      const t1 = peers.find((p) => p.name.startsWith('t1'))!;
      assert.equal(t1.CurAddr, direct);
      // tailscaled sees the direct path too.
      const back = await lab.peer('t1').ping(mIp, { count: 10, untilDirect: true });
      assert.equal(back.pongs[back.pongs.length - 1]?.via.kind, 'direct', back.stdout);
    } finally {
      await agent.stop();
    }
  });
});

test('direct path: bulk traffic stays out of JS; derper killed → traffic goes on; restarted → DERP reconnects', { timeout: 300_000 }, async (t) => {
  await withLab(t, { name: 'ms-derpkill', derpRegions: 1, hosts: [{ name: 't1', nat: 'easy' }, { name: 'm1', nat: 'easy', peer: 'none' }] }, async (lab) => {
    const { agent } = await startAgent(lab, 'm1');
    try {
      const tIp = await tailscaleIPv4(lab, 't1');
      await lab.peer('t1').waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 60_000);
      assert.equal((await icmpUntil(lab.host('m1').ns, tIp, 60_000)).code, 0);
      const pongs = await agent.pingUntilDirect(tIp, 15);
      assert.ok(pongs.at(-1)?.endpoint, `direct: ${JSON.stringify(pongs)}`);

      // 1. Under load on the direct path only disco/keep-alive crosses into JS.
      const before = (await agent.metrics()).counters;
      const x = await tcpTransfer(lab.host('t1').ns, tIp, lab.host('m1').ns, 64 * MiB, 5603);
      assert.equal(x.received, x.sent);
      const after = (await agent.metrics()).counters;
      const directPackets = after.direct.txPackets - before.direct.txPackets;
      const toJs = after.toJs.total - before.toJs.total;
      t.diagnostic(`64 MiB in ${x.ms} ms: direct tx packets +${directPackets}, JS crossings +${toJs} (disco +${after.toJs.disco - before.toJs.disco}, derpSend +${after.toJs.derpSend - before.toJs.derpSend}, stun +${after.toJs.stun - before.toJs.stun})`);
      assert.ok(directPackets > 40_000, `the transfer went direct (${directPackets} packets)`);
      assert.equal(after.toJs.derpSend - before.toJs.derpSend, 0, 'no WireGuard packet went to DERP');
      // Heartbeat pongs every 3 s, pings from the peer, STUN every ~20 s: a handful per second at most.
      const seconds = Math.max(1, x.ms / 1000);
      assert.ok(toJs <= 20 + 5 * seconds, `JS crossings stay at the disco level: ${toJs} in ${seconds.toFixed(1)} s`);

      // 2. Kill the derper while direct: a paced stream and pings go on.
      const stream = tcpTransfer(lab.host('t1').ns, tIp, lab.host('m1').ns, 8 * MiB, 5604, 120_000, 100);
      await new Promise((r) => setTimeout(r, 2000));
      lab.derpers[0]!.stop();
      t.diagnostic('derper stopped');
      const during = await run(['ping', '-c', '10', '-i', '0.5', '-W', '2', tIp], lab.host('m1').ns, 30_000);
      assert.equal(during.code, 0, `ICMP keeps working without DERP: ${during.stdout}`);
      const s = await stream;
      assert.equal(s.receivedBytes, 8 * MiB);
      assert.equal(s.received, s.sent);
      const downState = (await agent.derpStatus()).find((d) => d.regionId === 900)?.state;
      t.diagnostic(`DERP region 900 while the derper is down: ${downState}`);
      assert.notEqual(downState, 'connected');

      // 3. Restart it: the DERP connection comes back on its own.
      await lab.derpers[0]!.start();
      t.diagnostic('derper restarted');
      const t0 = Date.now();
      let state = '';
      while (Date.now() - t0 < 60_000) {
        state = (await agent.derpStatus()).find((d) => d.regionId === 900)?.state ?? '';
        if (state === 'connected') break;
        await new Promise((res) => setTimeout(res, 500));
      }
      assert.equal(state, 'connected', 'DERP reconnected after the derper came back');
      t.diagnostic(`DERP reconnected after ${Date.now() - t0} ms`);
    } finally {
      await agent.stop();
    }
  });
});

test('5 % random loss on both NATs: the peers connect and a transfer completes', { timeout: 300_000 }, async (t) => {
  await withLab(t, { name: 'ms-loss', derpRegions: 1, hosts: [{ name: 't1', nat: 'easy' }, { name: 'm1', nat: 'easy', peer: 'none' }] }, async (lab) => {
    await lab.topo.addLoss(lab.host('t1').router!.ns, 0.05);
    await lab.topo.addLoss(lab.host('m1').router!.ns, 0.05);
    const { agent } = await startAgent(lab, 'm1');
    try {
      const tIp = await tailscaleIPv4(lab, 't1');
      await lab.peer('t1').waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 90_000);
      assert.equal((await icmpUntil(lab.host('m1').ns, tIp, 90_000)).code, 0);
      const x = await tcpTransfer(lab.host('t1').ns, tIp, lab.host('m1').ns, 4 * MiB, 5605, 180_000);
      assert.equal(x.receivedBytes, 4 * MiB);
      assert.equal(x.received, x.sent);
      const pongs = await agent.pingUntilDirect(tIp, 15);
      t.diagnostic(`4 MiB under 5 % loss in ${x.ms} ms; pings: ${pongs.map((p) => p.endpoint ?? `DERP(${p.derpRegionCode})`).join(', ')}`);
      assert.ok(pongs.length > 0);
      // The loss rules really dropped packets (iptables counters of the statistic rules).
      for (const h of ['t1', 'm1']) {
        const l = await runOk(['iptables', '-w', '-L', 'FORWARD', '-v', '-n', '-x'], { ns: lab.host(h).router!.ns });
        const dropped = l.stdout.split('\n').filter((x) => x.includes('statistic')).reduce((n, x) => n + Number(x.trim().split(/\s+/)[0]), 0);
        t.diagnostic(`${h}'s NAT dropped ${dropped} packets at random`);
        assert.ok(dropped > 0, `${h}: loss rules dropped packets`);
      }
    } finally {
      await agent.stop();
    }
  });
});
