// meshtrayd (its data path: native data plane + DERP + magicsock) against REAL tailscaled v1.98.10
// peers, real derpers and real Headscale v0.29.2 in lab namespaces, driven with the meshtray CLI.
// For each topology: kernel ICMP ping and an exact TCP transfer across the tailnet, and the path
// `meshtray ping` reports compared with what a tailscaled pair in the same topology gets (direct
// where they get direct, DERP where they do not), and what `tailscale ping` sees towards us.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../lab/with-lab.js';
import type { Lab } from '../../lab/lab.js';
import { parsePongs, peerByHostName, type Pong } from '../../lab/peer-output.js';
import type { NatKind } from '../../lab/netns.js';
import { icmpUntil, tailscaleIPv4, tcpTransfer } from './agent-harness.js';

type Path = 'direct' | 'derp';

/** What `tailscale ping` (until direct, 10 tries) ends on between two tailscaled nodes. */
async function tailscaledPath(lab: Lab, from: string, toIp: string): Promise<Path> {
  const r = await lab.peer(from).ping(toIp, { count: 12, untilDirect: true });
  const last = r.pongs[r.pongs.length - 1];
  assert.ok(last, `tailscale ping ${toIp} from ${from} got no pong: ${r.stdout} ${r.stderr}`);
  return last.via.kind === 'direct' ? 'direct' : 'derp';
}

function pathOf(pongs: Pong[]): Path | undefined {
  const last = pongs[pongs.length - 1];
  if (!last) return undefined;
  return last.via.kind === 'direct' ? 'direct' : 'derp';
}

async function waitPeerSeen(lab: Lab, tsHost: string, name: string): Promise<void> {
  await lab.peer(tsHost).waitStatus(`${tsHost} sees ${name} online`, (s) => {
    const p = peerByHostName(s, name);
    return !!p && (p.Online ?? true);
  }, 60_000);
}

interface Case { name: string; meshNat: NatKind | 'none'; tsNat: NatKind | 'none' }

const CASES: Case[] = [
  { name: 'same LAN-like public hosts', meshNat: 'none', tsNat: 'none' },
  { name: 'both behind easy NATs', meshNat: 'easy', tsNat: 'easy' },
  { name: 'Meshtray behind a hard NAT', meshNat: 'hard', tsNat: 'easy' },
  { name: 'UDP blocked on Meshtray\'s side', meshNat: 'udp-blocked', tsNat: 'easy' },
  { name: 'tailscaled behind a hard NAT', meshNat: 'easy', tsNat: 'hard' },
  { name: 'UDP blocked on tailscaled\'s side', meshNat: 'easy', tsNat: 'udp-blocked' },
];

for (const c of CASES) {
  test(`meshtrayd ↔ tailscaled: ${c.name}: ICMP, TCP, and the same path as a tailscaled pair`, { timeout: 300_000 }, async (t) => {
    await withLab(t, {
      name: `ms-${c.meshNat}-${c.tsNat}`,
      derpRegions: 1,
      hosts: [
        { name: 't1', nat: c.tsNat },
        // The reference node: a tailscaled in the same spot as Meshtray.
        { name: 'r1', nat: c.meshNat },
        { name: 'm1', nat: c.meshNat, peer: 'meshtrayd' },
      ],
    }, async (lab) => {
      const m1 = lab.peer('m1');
      const mIp = await tailscaleIPv4(lab, 'm1');
      const tIp = await tailscaleIPv4(lab, 't1');
      await waitPeerSeen(lab, 't1', 'm1');

      // Traffic both ways through the tailnet.
      const p1 = await icmpUntil(lab.host('m1').ns, tIp, 60_000);
      assert.equal(p1.code, 0, `ping m1 → t1: ${p1.stdout}`);
      const p2 = await icmpUntil(lab.host('t1').ns, mIp, 30_000);
      assert.equal(p2.code, 0, `ping t1 → m1: ${p2.stdout}`);
      const x = await tcpTransfer(lab.host('t1').ns, tIp, lab.host('m1').ns, 8 * 1024 * 1024);
      assert.equal(x.receivedBytes, 8 * 1024 * 1024);
      assert.equal(x.received, x.sent, 'TCP stream arrives intact');

      // The path: what a tailscaled pair gets here, and what `meshtray ping` reports.
      const want = await tailscaledPath(lab, 'r1', tIp);
      const ping = await m1.cli(['ping', '--c=12', tIp], 120_000);
      const pongs = parsePongs(ping.stdout);
      t.diagnostic(`tailscaled pair: ${want}; meshtray ping:\n${ping.stdout.trim()}`);
      assert.ok(pongs.length > 0, `meshtray ping got pongs: ${ping.stdout} ${ping.stderr}`);
      assert.equal(pathOf(pongs), want, 'meshtray reports the path tailscaled gets in the same topology');
      // tailscale's exit codes: 0 once direct; "direct connection not established" (1) otherwise.
      if (want === 'direct') assert.equal(ping.code, 0, ping.stderr);
      else assert.match(ping.stderr, /direct connection not established/);
      for (const p of pongs) {
        assert.equal(p.name, 't1');
        assert.equal(p.ip, tIp);
        if (p.via.kind === 'derp') assert.equal(p.via.region, 'lab1');
      }
      // And the tailscaled side agrees with us.
      const back = await lab.peer('t1').ping(mIp, { count: 12, untilDirect: true });
      const last = back.pongs[back.pongs.length - 1];
      assert.ok(last, `tailscale ping m1: ${back.stdout} ${back.stderr}`);
      assert.equal(last.via.kind === 'direct' ? 'direct' : 'derp', want, `tailscale ping m1 from t1: ${back.stdout}`);
      const st = await m1.status();
      const t1 = peerByHostName(st, 't1') as Record<string, unknown> | undefined;
      assert.ok(t1);
      t.diagnostic(`m1's status of t1: CurAddr=${String(t1['CurAddr'])} Relay=${String(t1['Relay'])} Rx=${String(t1['RxBytes'])} Tx=${String(t1['TxBytes'])} LastHandshake=${String(t1['LastHandshake'])}`);
      assert.equal(t1['InEngine'], true);
      assert.equal(t1['InMagicSock'], true);
      assert.ok(Number(t1['TxBytes']) >= 8 * 1024 * 1024, 'TxBytes counts the transfer');
      assert.ok(!String(t1['LastHandshake']).startsWith('0001'), 'handshake time reported');
      if (want === 'direct') assert.match(String(t1['CurAddr']), /:\d+$/);
    });
  });
}
