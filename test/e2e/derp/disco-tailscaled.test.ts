// Disco over DERP with a REAL tailscaled (v1.98.10) in the lab (real Headscale v0.29.2, two real
// derpers): our node registers through Meshtray's control client, runs Meshtray's netcheck,
// connects Meshtray's DERP client, and
//  - our disco Ping sealed by Meshtray reaches tailscaled, whose Pong we open;
//  - `tailscale ping` from tailscaled to us gets our Pongs: "pong from m1 (…) via DERP(labN)".
// Also compares Meshtray's netcheck with `tailscale netcheck --format=json` in the same namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { withLab } from '../../lab/with-lab.js';
import { NsAgent, siblingScriptArgv, tailnetIPv4 } from '../support/ns-agent.js';
import type { TailscaleNetcheckJSON } from '../../../main/engine/netcheck/report.js';

const nodeArgv = (script: string): string[] => siblingScriptArgv(import.meta.url, script);

test('disco over DERP with a real tailscaled: our ping answered, its `tailscale ping` answered', { timeout: 240_000 }, async (t) => {
  await withLab(t, { hosts: [{ name: 't1', nat: 'easy' }, { name: 'm1', nat: 'easy', peer: 'none' }] }, async (lab) => {
    const t1 = lab.hosts.get('t1')!.peer!;
    const authKey = await lab.authKey();
    const agent = NsAgent.start(lab.ns('m1'), nodeArgv('disco-agent'), { serverURL: lab.loginServer, authKey, hostname: 'm1', peerHostname: 't1' });
    try {
      const ready = await agent.waitFor((e) => e.event === 'ready', 60_000, 'agent ready');
      const myIP = tailnetIPv4(ready.addresses)!;
      assert.ok(myIP, 'agent has a tailnet IPv4');

      // 1. Our disco ping (sealed by Meshtray) -> tailscaled -> its pong (opened by Meshtray), all via DERP.
      const pong = await agent.waitFor((e) => e.event === 'pong', 60_000, 'pong from tailscaled');
      const t1Status = await t1.status();
      assert.equal(pong.from, t1Status.Self?.PublicKey, 'pong came from t1\'s node key');
      // tailscaled reports where it saw our ping come from: the DERP magic address 127.3.3.40:<region>.
      assert.match(String(pong.src), /^127\.3\.3\.40:90[01]$/);

      // 2. tailscaled's own disco ping to us, answered by Meshtray over DERP. First wait until
      //    tailscaled learned our home region from control (our Hostinfo.NetInfo.PreferredDERP).
      const home = ready.home as number;
      const code = home === 900 ? 'lab1' : 'lab2';
      await t1.waitStatus(`t1 sees m1 homed in ${code}`, (s) => Object.values(s.Peer).some((p) => p.TailscaleIPs.includes(myIP) && p.Relay === code), 30_000);
      const r = await t1.ping(myIP, { count: 3, untilDirect: false, timeoutMs: 5000 });
      t.diagnostic(r.stdout.trim());
      assert.ok(r.pongs.length >= 1, `tailscale ping got no pong: ${r.stdout} ${r.stderr}`);
      for (const p of r.pongs) {
        assert.equal(p.name, 'm1');
        assert.equal(p.ip, myIP);
        assert.equal(p.via.kind, 'derp');
      }
      assert.equal(r.pongs.length, 3, 'every ping answered');
      assert.ok(r.pongs.some((p) => p.via.kind === 'derp' && p.via.region === code), `pong via our home DERP(${code})`);
      assert.ok(agent.events.some((e) => e.event === 'pinged' && e.nodeKeyInPing === t1Status.Self?.PublicKey), 'tailscaled\'s ping carried its node key');
    } finally {
      await agent.stop();
    }
  });
});

test('disco over UDP with a real tailscaled: CallMeMaybe via DERP, then `tailscale ping` goes direct', { timeout: 240_000 }, async (t) => {
  await withLab(t, { hosts: [{ name: 't1', nat: 'easy' }, { name: 'm1', nat: 'easy', peer: 'none' }] }, async (lab) => {
    const t1host = lab.hosts.get('t1')!;
    const m1host = lab.hosts.get('m1')!;
    const t1 = t1host.peer!;
    const authKey = await lab.authKey();
    const agent = NsAgent.start(lab.ns('m1'), nodeArgv('disco-agent'), { serverURL: lab.loginServer, authKey, hostname: 'm1', peerHostname: 't1' });
    try {
      const ready = await agent.waitFor((e) => e.event === 'ready', 60_000, 'agent ready');
      const myIP = tailnetIPv4(ready.addresses)!;
      const nc = await agent.waitFor((e) => e.event === 'netcheck', 1000, 'netcheck');
      assert.equal(nc.globalV4, `${m1host.publicIp}:41641`, 'our STUN-learned endpoint (easy NAT keeps the port)');
      const code = (ready.home as number) === 900 ? 'lab1' : 'lab2';
      await t1.waitStatus('t1 knows m1', (s) => Object.values(s.Peer).some((p) => p.TailscaleIPs.includes(myIP) && p.Relay === code), 30_000);
      // tailscale ping (until direct): first over DERP; tailscaled sends CallMeMaybe with its
      // endpoints over DERP and disco-pings our advertised endpoints over UDP; we answer and ping back.
      const r = await t1.ping(myIP, { count: 15, untilDirect: true, timeoutMs: 5000 });
      t.diagnostic(r.stdout.trim());
      const cmm = agent.events.find((e) => e.event === 'callMeMaybe');
      assert.ok(cmm, `tailscaled sent CallMeMaybe over DERP; events ${JSON.stringify(agent.events.map((e) => e.event))}`);
      assert.ok((cmm.endpoints as string[]).includes(`${t1host.publicIp}:41641`), `CallMeMaybe lists t1's public endpoint: ${JSON.stringify(cmm.endpoints)}`);
      const udpPinged = agent.events.find((e) => e.event === 'udp-pinged');
      assert.ok(udpPinged, 'tailscaled disco-pinged us over UDP');
      assert.equal(udpPinged.from, `${t1host.publicIp}:41641`);
      const last = r.pongs.at(-1);
      assert.ok(last, `no pong at all: ${r.stdout} ${r.stderr}`);
      assert.deepEqual(last.via, { kind: 'direct', endpoint: `${m1host.publicIp}:41641` }, r.stdout);
      assert.equal(r.code, 0, 'tailscale ping exits 0 once direct');
      assert.ok(agent.events.some((e) => e.event === 'udp-pong' && e.from === `${t1host.publicIp}:41641`), 'our UDP ping answered by tailscaled');
    } finally {
      await agent.stop();
    }
  });
});

test('netcheck: Meshtray and `tailscale netcheck` agree in the same namespace (easy and hard NAT)', { timeout: 240_000 }, async (t) => {
  await withLab(t, { hosts: [{ name: 'e1', nat: 'easy' }, { name: 'h1', nat: 'hard' }] }, async (lab) => {
    const regions = { Regions: Object.fromEntries(lab.derpers.map((d) => [String(d.region!.regionId), {
      RegionID: d.region!.regionId, RegionCode: d.region!.regionCode,
      Nodes: [{ Name: `${d.region!.regionId}a`, RegionID: d.region!.regionId, HostName: d.region!.ip, IPv4: d.region!.ip, IPv6: 'none', STUNPort: d.region!.stunPort, DERPPort: d.region!.derpPort, CertName: d.region!.certName }],
    }])) };
    for (const name of ['e1', 'h1']) {
      const host = lab.hosts.get(name)!;
      const theirs = (await host.peer!.netcheck()) as TailscaleNetcheckJSON;
      const out = await new Promise<string>((resolve, reject) => {
        const p = spawn('ip', ['netns', 'exec', host.ns, ...nodeArgv('netcheck-agent'), JSON.stringify(regions)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHTRAY_AGENT_PORT: '0' } });
        let o = '';
        let e = '';
        p.stdout.on('data', (d: Buffer) => (o += d.toString()));
        p.stderr.on('data', (d: Buffer) => (e += d.toString()));
        p.on('exit', (c) => (c === 0 ? resolve(o) : reject(new Error(`netcheck agent exited ${c}: ${e}`))));
      });
      // tailscaled holds 41641 in that namespace, so our agent uses its own ephemeral port (the public port differs; the IP must not).
      const ours = (JSON.parse(out.trim().split('\n').at(-1)!) as { report: TailscaleNetcheckJSON }).report;
      t.diagnostic(`${name}: tailscale ${JSON.stringify({ UDP: theirs.UDP, GlobalV4: theirs.GlobalV4, MappingVariesByDestIP: theirs.MappingVariesByDestIP, RegionLatency: theirs.RegionLatency, PreferredDERP: theirs.PreferredDERP })}`);
      t.diagnostic(`${name}: meshtray  ${JSON.stringify({ UDP: ours.UDP, GlobalV4: ours.GlobalV4, MappingVariesByDestIP: ours.MappingVariesByDestIP, RegionLatency: ours.RegionLatency, PreferredDERP: ours.PreferredDERP })}`);
      assert.equal(ours.UDP, theirs.UDP);
      assert.equal(ours.IPv4, theirs.IPv4);
      assert.equal(ours.MappingVariesByDestIP, theirs.MappingVariesByDestIP);
      assert.equal(ours.GlobalV4.split(':')[0], theirs.GlobalV4.split(':')[0], 'same public IP');
      assert.deepEqual(Object.keys(ours.RegionLatency).sort(), Object.keys(theirs.RegionLatency).sort());
    }
  });
});
