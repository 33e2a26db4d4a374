// The data path inside meshtrayd, driven by the meshtray CLI as a user would: `meshtray up` in a lab
// namespace next to a REAL tailscaled v1.98.10 (real Headscale v0.29.2, real derper). Kernel ping
// and TCP through the TUN meshtrayd creates, `meshtray ping` printing tailscale's lines with
// DERP(lab1) first and then the direct ip:port, `tailscale ping` from the other side agreeing,
// `status --json` data-plane fields, `meshtray netcheck` and the metrics command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../lab/with-lab.js';
import { parsePongs, peerByHostName } from '../../lab/peer-output.js';
import { icmpUntil, tailscaleIPv4, tcpTransfer } from './agent-harness.js';

const MiB = 1024 * 1024;

test('meshtrayd ↔ tailscaled behind easy NATs: traffic, meshtray ping DERP → direct, status, netcheck, metrics', { timeout: 300_000 }, async (t) => {
  await withLab(t, { name: 'ms-daemon', derpRegions: 1, hosts: [{ name: 't1', nat: 'easy' }, { name: 'm1', nat: 'easy', peer: 'meshtrayd' }] }, async (lab) => {
    const m1 = lab.peer('m1');
    const t1 = lab.peer('t1');
    const tIp = await tailscaleIPv4(lab, 't1');
    const mIps = await m1.ip();
    const mIp = mIps.find((i) => !i.includes(':'))!;
    await t1.waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 60_000);

    // The first ping goes over DERP (no direct path yet), later ones direct, as tailscale ping shows.
    const ping = await m1.cli(['ping', '--c=15', tIp], 90_000);
    t.diagnostic(ping.stdout.trim());
    assert.equal(ping.code, 0, `meshtray ping: ${ping.stdout} ${ping.stderr}`);
    const pongs = parsePongs(ping.stdout);
    assert.ok(pongs.length >= 1);
    assert.equal(pongs[0]!.name, 't1');
    assert.equal(pongs[0]!.ip, tIp);
    assert.deepEqual(pongs[0]!.via, { kind: 'derp', region: 'lab1' }, 'first pong via DERP(lab1)');
    const last = pongs[pongs.length - 1]!;
    assert.equal(last.via.kind, 'direct', 'ends on a direct path');
    assert.match(ping.stdout, /^pong from t1 \(100\.\d+\.\d+\.\d+\) via DERP\(lab1\) in \d+ms$/m);

    // Kernel traffic both ways through meshtrayd's TUN, and an exact TCP stream.
    assert.equal((await icmpUntil(m1.ns, tIp, 30_000)).code, 0);
    assert.equal((await icmpUntil(t1.ns, mIp, 30_000)).code, 0);
    const x = await tcpTransfer(t1.ns, tIp, m1.ns, 8 * MiB, 5611);
    assert.equal(x.received, x.sent);

    // tailscaled sees the direct path to us too.
    const back = await t1.ping(mIp, { count: 10, untilDirect: true });
    assert.equal(back.pongs.at(-1)?.via.kind, 'direct', back.stdout);

    // status --json carries the data-plane fields.
    const st = await m1.status();
    const p = peerByHostName(st, 't1') as Record<string, unknown> | undefined;
    assert.ok(p);
    assert.match(String(p['CurAddr']), /^198\.51\.100\.\d+:\d+$/);
    assert.equal(p['Relay'], 'lab1');
    assert.ok(Number(p['TxBytes']) >= 8 * MiB, `TxBytes ${String(p['TxBytes'])}`);
    assert.equal(p['InEngine'], true);
    const rawStatus = await m1.cli(['status', '--json']);
    const self = (JSON.parse(rawStatus.stdout) as { Self: { Addrs: string[]; Relay: string }; TUN: boolean });
    assert.equal(self.TUN, true);
    assert.equal(self.Self.Relay, 'lab1');
    assert.ok(self.Self.Addrs.some((a) => a.startsWith(`${lab.host('m1').router!.wanIp}:`)), `STUN endpoint advertised: ${self.Self.Addrs.join(', ')}`);

    // netcheck as tailscale prints it.
    const nc = await m1.cli(['netcheck'], 30_000);
    assert.equal(nc.code, 0, nc.stderr);
    assert.match(nc.stdout, /\* UDP: true/);
    assert.match(nc.stdout, new RegExp(`\\* IPv4: yes, ${lab.host('m1').router!.wanIp.replace(/\./g, '\\.')}:\\d+`));
    assert.match(nc.stdout, /\* Nearest DERP: /);
    assert.match(nc.stdout, /- lab1: /);

    // Metrics: counters by reason, including the JS-crossing counters.
    const mt = await m1.cli(['debug', 'metrics'], 15_000);
    assert.equal(mt.code, 0, mt.stderr);
    assert.match(mt.stdout, /^dataplane_to_js_total \d+$/m);
    assert.match(mt.stdout, /^magicsock_disco-rx-udp-pong \d+$/m);
  });
});
