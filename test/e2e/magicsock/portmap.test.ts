// Port mapping against a REAL router daemon: meshtrayd behind a hard (endpoint-dependent) NAT whose
// router runs miniupnpd 2.3.1 (NAT-PMP + PCP + UPnP IGD), a REAL tailscaled v1.98.10 behind another
// hard NAT WITHOUT port mapping (so tailscaled's own portmapper cannot help), real derpers and
// Headscale v0.29.2. Hard ↔ hard never punches through, so:
//   - with Meshtray's port mapping off (TS_DISABLE_PORTMAPPER=1, tailscale's knob) the pair stays
//     on DERP and the router has no mapping;
//   - with it on, meshtrayd advertises the router's public IP + mapped port first in its endpoints,
//     `tailscale ping` from the tailscaled side goes direct to exactly that address, `meshtray
//     netcheck` shows the protocols miniupnpd answered, and `meshtray down` deletes the mapping
//     (miniupnpd's MINIUPNPD nat chain is empty again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../lab/with-lab.js';
import type { Lab } from '../../lab/lab.js';
import type { UpnpMappingRule } from '../../lab/miniupnpd.js';
import { peerByHostName } from '../../lab/peer-output.js';
import { tailscaleIPv4 } from './agent-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

const HOSTS = (meshEnv?: Record<string, string>, upnp: boolean | { natpmp: boolean } = true) => [
  { name: 't1', nat: 'hard' as const },
  { name: 'm1', nat: 'hard' as const, upnp, peer: 'meshtrayd' as const, ...(meshEnv ? { env: meshEnv } : {}) },
];

async function selfAddrs(lab: Lab): Promise<string[]> {
  const raw = await lab.peer('m1').cli(['status', '--json']);
  return (JSON.parse(raw.stdout) as { Self: { Addrs: string[] | null } }).Self.Addrs ?? [];
}

test('meshtrayd behind a hard NAT with miniupnpd: mapped endpoint, tailscaled goes direct to it, netcheck, mapping deleted on down', { timeout: 300_000 }, async (t) => {
  await withLab(t, { name: 'portmap-on', hosts: HOSTS() }, async (lab) => {
    const m1 = lab.peer('m1');
    const t1 = lab.peer('t1');
    const router = lab.host('m1').router!;
    const upnpd = router.upnpd!;
    const mIp = await tailscaleIPv4(lab, 'm1');
    await t1.waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 60_000);

    // The router forwards a UDP port to meshtrayd's WireGuard port.
    const rule = await until<UpnpMappingRule>('a miniupnpd mapping to m1', 30_000, async () =>
      (await upnpd.mappings()).find((r) => r.proto === 'udp' && r.internalIp === lab.host('m1').ip && r.internalPort === 41641));
    const mapped = `${router.wanIp}:${rule.externalPort}`;
    t.diagnostic(`router ${router.wanIp} maps udp ${rule.externalPort} → ${rule.internalIp}:${rule.internalPort}`);

    // meshtrayd advertises it, first (EndpointType portmap goes before STUN in tailscale's order).
    const addrs = await until('the mapped address in Self.Addrs', 30_000, async () => {
      const a = await selfAddrs(lab);
      return a[0] === mapped ? a : undefined;
    });
    t.diagnostic(`m1 endpoints: ${addrs.join(', ')}`);

    // tailscaled (hard NAT, no port mapping of its own) reaches us directly on the mapped address.
    const back = await t1.ping(mIp, { count: 15, untilDirect: true });
    t.diagnostic(back.stdout.trim());
    const last = back.pongs.at(-1);
    assert.ok(last, `tailscale ping got pongs: ${back.stdout} ${back.stderr}`);
    assert.deepEqual(last.via, { kind: 'direct', endpoint: mapped }, 'tailscale ping goes direct to the router\'s mapped address');

    // netcheck: what miniupnpd answered (it speaks all three), text and JSON.
    const nc = await m1.cli(['netcheck'], 30_000);
    assert.equal(nc.code, 0, nc.stderr);
    assert.match(nc.stdout, /^\t\* PortMapping: UPnP, NAT-PMP, PCP$/m, nc.stdout);
    assert.match(nc.stdout, /^\t\* MappingVariesByDestIP: true$/m, 'the NAT is hard (endpoint-dependent)');
    const js = (await m1.netcheck()) as { UPnP: unknown; PMP: unknown; PCP: unknown };
    assert.deepEqual([js.UPnP, js.PMP, js.PCP], [true, true, true]);
    const mt = await m1.cli(['debug', 'metrics'], 15_000);
    assert.match(mt.stdout, /^portmap_map-ok-pmp 1$/m, 'mapped with NAT-PMP (tried first, as tailscale does)');

    // `meshtray down` deletes the mapping at the router.
    const down = await m1.cli(['down'], 30_000);
    assert.equal(down.code, 0, down.stderr);
    await until('miniupnpd mapping removed', 10_000, async () => ((await upnpd.mappings()).length === 0 ? true : undefined));
  });
});

test('UPnP IGD only (miniupnpd with NAT-PMP/PCP off): mapped with AddAnyPortMapping, direct, deleted with DeletePortMapping on down', { timeout: 300_000 }, async (t) => {
  await withLab(t, { name: 'portmap-upnp', hosts: HOSTS(undefined, { natpmp: false }) }, async (lab) => {
    const m1 = lab.peer('m1');
    const t1 = lab.peer('t1');
    const router = lab.host('m1').router!;
    const mIp = await tailscaleIPv4(lab, 'm1');
    await t1.waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 60_000);
    const rule = await until<UpnpMappingRule>('a miniupnpd mapping to m1', 30_000, async () =>
      (await router.upnpd!.mappings()).find((r) => r.proto === 'udp' && r.internalIp === lab.host('m1').ip && r.internalPort === 41641));
    const mapped = `${router.wanIp}:${rule.externalPort}`;
    await until('the mapped address in Self.Addrs', 30_000, async () => ((await selfAddrs(lab))[0] === mapped ? true : undefined));
    const back = await t1.ping(mIp, { count: 15, untilDirect: true });
    t.diagnostic(back.stdout.trim());
    assert.deepEqual(back.pongs.at(-1)?.via, { kind: 'direct', endpoint: mapped }, back.stdout);
    const nc = await m1.cli(['netcheck'], 30_000);
    assert.match(nc.stdout, /^\t\* PortMapping: UPnP$/m, nc.stdout);
    const mt = await m1.cli(['debug', 'metrics'], 15_000);
    assert.match(mt.stdout, /^portmap_map-ok-upnp 1$/m, mt.stdout);
    assert.equal((await m1.cli(['down'], 30_000)).code, 0);
    await until('miniupnpd mapping removed', 10_000, async () => ((await router.upnpd!.mappings()).length === 0 ? true : undefined));
  });
});

test('control: the same hard ↔ hard pair with Meshtray\'s port mapping off stays on DERP', { timeout: 300_000 }, async (t) => {
  await withLab(t, { name: 'portmap-off', hosts: HOSTS({ TS_DISABLE_PORTMAPPER: '1' }) }, async (lab) => {
    const m1 = lab.peer('m1');
    const t1 = lab.peer('t1');
    const upnpd = lab.host('m1').router!.upnpd!;
    const mIp = await tailscaleIPv4(lab, 'm1');
    await t1.waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 60_000);

    const back = await t1.ping(mIp, { count: 10, untilDirect: true });
    t.diagnostic(back.stdout.trim());
    assert.ok(back.pongs.length >= 5, `tailscale ping got pongs: ${back.stdout} ${back.stderr}`);
    assert.ok(back.pongs.every((p) => p.via.kind === 'derp'), 'every pong relayed: hard NAT on both sides, no mapping');
    assert.deepEqual(await upnpd.mappings(), [], 'nothing asked the router for a mapping');
    const nc = await m1.cli(['netcheck'], 30_000);
    assert.match(nc.stdout, /^\t\* PortMapping: not checked$/m, nc.stdout);
  });
});
