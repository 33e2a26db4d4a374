// Lab self-test against the real binaries: Headscale + 2 derpers + tailscaled peers behind NATs.
// Asserts what the peers report (status --json, tailscale ping), not that processes started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peerByHostName, type Status } from './peer-output.js';
import { waitFor } from './proc.js';
import { withLab } from './with-lab.js';
import type { Lab } from './lab.js';

/**
 * Waits until `from` sees `to` online AND knows `to`'s home DERP region. Online alone (Headscale's
 * "connected to control") is not enough for a ping: until the peer's netcheck has picked a home
 * DERP and control has passed it on, `from` has no DERP address for it (status --json `Relay` is
 * empty, tailscale wgengine/magicsock/endpoint.go populatePeerStatus), so discoPing sends only to
 * the peer's direct endpoints, which its NAT drops unsolicited, and every `tailscale ping` times
 * out ("ping "100.64.0.x" timed out"). A UDP-blocked peer picks its home DERP late (netcheck
 * falls back to HTTPS latency), and under load any peer can: this was the self-test's flake.
 */
async function waitSeesPeer(lab: Lab, from: string, to: string): Promise<Status> {
  return lab.peer(from).waitStatus(
    `sees ${to} online with a home DERP`,
    (s) => {
      const p = peerByHostName(s, to);
      return p?.Online === true && p.Relay !== '';
    },
    60_000,
  );
}

/** The CLI's "ping "IP" timed out" lines (tailscale cmd/tailscale/cli/ping.go), for messages. */
const timeoutLines = (out: string): string[] => out.split('\n').filter((l) => / timed out$/.test(l));

test('two tailscaled peers behind easy NATs join, see each other, ping via DERP then directly', { timeout: 240_000 }, async (t) => {
  await withLab(t, {}, async (lab) => {
    const a = lab.peer('a1');
    const b = lab.peer('b1');
    const stA = await waitSeesPeer(lab, 'a1', 'b1');
    const stB = await waitSeesPeer(lab, 'b1', 'a1');

    // Headscale allocates sequentially from 100.64.0.0/10; each side sees the other's addresses.
    const aIp = stA.Self?.TailscaleIPs.find((ip) => ip.startsWith('100.'));
    const bIp = stB.Self?.TailscaleIPs.find((ip) => ip.startsWith('100.'));
    assert.ok(aIp && bIp, 'both peers have a 100.x address');
    assert.match(aIp, /^100\.64\.0\.\d+$/);
    const bSeenByA = peerByHostName(stA, 'b1')!;
    const aSeenByB = peerByHostName(stB, 'a1')!;
    assert.equal(bSeenByA.HostName, 'b1');
    assert.equal(aSeenByB.HostName, 'a1');
    assert.deepEqual(bSeenByA.TailscaleIPs, stB.Self?.TailscaleIPs);
    assert.deepEqual(aSeenByB.TailscaleIPs, stA.Self?.TailscaleIPs);
    assert.equal(bSeenByA.Online, true);
    assert.equal(aSeenByB.Online, true);

    // No traffic yet, so no direct path: the first pong comes over DERP, then the NATs are
    // punched and a later pong arrives directly from b1's NAT mapping (198.51.100.10x:port).
    // The first ping also dials b1's home DERP region if it is not ours; under load that TLS dial
    // can outlast the CLI's default 5 s per-ping --timeout, the pong then arrives after the CLI
    // gave up and the next ping may already be direct. A longer --timeout lets the first (DERP)
    // pong be counted without allowing anything else: a timed-out ping still fails the test.
    assert.equal(peerByHostName(stA, 'b1')!.CurAddr, '', 'no direct path before any traffic');
    const r = await a.ping(bIp, { count: 15, timeoutMs: 10_000 });
    assert.deepEqual(timeoutLines(r.stdout), [], `no ping timed out: ${r.stdout}${r.stderr}`);
    assert.ok(r.pongs.length >= 2, `expected several pongs, got: ${r.stdout}${r.stderr}`);
    assert.deepEqual(r.pongs[0]!.via.kind, 'derp', `first pong: ${r.pongs[0]!.line}`);
    assert.match(r.pongs[0]!.line, /via DERP\(lab[12]\)/);
    const last = r.pongs.at(-1)!;
    assert.equal(last.via.kind, 'direct', `last pong: ${last.line}`);
    assert.match(last.line, new RegExp(`^pong from b1 \\(${bIp.replace(/\./g, '\\.')}\\) via ${lab.host('b1').publicIp.replace(/\./g, '\\.')}:\\d+ in `));
    assert.equal(r.code, 0);

    // The other direction is now direct from the first pong (the path exists both ways).
    const back = await b.ping(aIp, { count: 5, timeoutMs: 10_000 });
    assert.equal(back.pongs.at(-1)?.via.kind, 'direct', back.stdout);
    assert.match(back.pongs.at(-1)!.line, new RegExp(`via ${lab.host('a1').publicIp.replace(/\./g, '\\.')}:\\d+`));
    // and status now shows the direct address in use
    const after = await a.waitStatus('b1 has a direct CurAddr', (s) => (peerByHostName(s, 'b1')?.CurAddr ?? '') !== '', 10_000);
    assert.match(peerByHostName(after, 'b1')!.CurAddr, new RegExp(`^${lab.host('b1').publicIp.replace(/\./g, '\\.')}:\\d+$`));
  });
});

test('a peer behind a UDP-blocked NAT stays on DERP; netcheck tells easy, hard and UDP-blocked NATs apart', { timeout: 240_000 }, async (t) => {
  const hosts = [
    { name: 'a1', nat: 'easy' as const },
    { name: 'u1', nat: 'udp-blocked' as const },
    { name: 'h1', nat: 'hard' as const },
  ];
  await withLab(t, { hosts }, async (lab) => {
    const st = await waitSeesPeer(lab, 'a1', 'u1');
    await waitSeesPeer(lab, 'u1', 'a1');
    const uIp = peerByHostName(st, 'u1')!.TailscaleIPs[0]!;
    // Warm-up: the first ping makes a1 dial u1's home DERP region (under load that can outlast a
    // ping's --timeout), and it sends a1's endpoints to u1 (CallMeMaybe), so that a direct path
    // would form now if it could. Only then the measured pings: every one answered, none direct.
    await waitFor('a1 gets a pong from u1', async () => {
      const w = await lab.peer('a1').ping(uIp, { count: 1, timeoutMs: 10_000, untilDirect: false });
      return w.pongs.length === 1 || `${w.stdout}${w.stderr}`.trim();
    }, { timeoutMs: 60_000, intervalMs: 500 });
    const r = await lab.peer('a1').ping(uIp, { count: 5, timeoutMs: 10_000 });
    assert.deepEqual(timeoutLines(r.stdout), [], `no ping timed out: ${r.stdout}${r.stderr}`);
    assert.equal(r.pongs.length, 5, `all pings answered over DERP: ${r.stdout}${r.stderr}`);
    for (const p of r.pongs) assert.equal(p.via.kind, 'derp', p.line);
    // tailscale ping --until-direct (default) gives up with this message after count relayed pongs
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /direct connection not established/);
    const after = await lab.peer('a1').status();
    assert.equal(peerByHostName(after, 'u1')!.CurAddr, '', 'no direct address to u1');
    assert.match(peerByHostName(after, 'u1')!.Relay, /^lab[12]$/);

    // netcheck (run in each node's namespace, against the lab's two STUN servers)
    const nc = async (name: string) => (await lab.peer(name).netcheck()) as { UDP: boolean; GlobalV4?: string; MappingVariesByDestIP?: boolean | null; PreferredDERP: number };
    const [easy, blocked, hard] = await Promise.all([nc('a1'), nc('u1'), nc('h1')]);
    assert.equal(easy.UDP, true);
    assert.match(easy.GlobalV4 ?? '', new RegExp(`^${lab.host('a1').publicIp.replace(/\./g, '\\.')}:\\d+$`));
    assert.equal(easy.MappingVariesByDestIP, false, 'easy NAT: one mapping for both STUN servers');
    assert.equal(hard.UDP, true);
    assert.equal(hard.MappingVariesByDestIP, true, 'hard NAT: a new mapping per destination');
    assert.equal(blocked.UDP, false, 'UDP-blocked: no STUN answer');
    assert.ok([900, 901].includes(blocked.PreferredDERP), `DERP still chosen over TCP: ${blocked.PreferredDERP}`);
  });
});
