// Runs inside a lab namespace as a minimal Meshtray node whose WireGuard is the native data plane:
// registers with Headscale (Meshtray's control client), connects Meshtray's DERP client to its
// home region, opens the native DataPlane (TUN with our tailnet addresses) and configures every
// netmap peer as "DERP only". WireGuard from the addon leaves through onDerpSend -> DERP; DERP
// packets that are not disco are injected into the addon. Disco pings over DERP are answered so
// tailscaled sees a live peer. Events are JSON lines on stdout; "counters" on stdin prints the
// addon's counters; stdin EOF exits. Config: JSON { serverURL, authKey, hostname, directIp? } in the
// environment (test/e2e/support/agent-config.ts), so the pre-auth key is not on the command line.
//
// With `directIp` (the host's own reachable address, for lab hosts without NAT) the agent also
// does the smallest piece of magicsock: it advertises directIp:<addon port> as its endpoint,
// answers disco pings that arrive on the addon's shared UDP socket (onDisco -> sendUdp), pings
// the peers' endpoints the same way, and switches a peer to that direct endpoint once a pong
// proves the path. Real path selection (heartbeats, fallback, NAT traversal) is the engine's job.
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DerpManager } from '../../../main/engine/derp/manager.js';
import { looksLikeDisco } from '../../../main/engine/disco/packet.js';
import { derpMagicAddr, formatIpPort, type IpPort } from '../../../main/engine/disco/addr.js';
import { PublicKey } from '../../../main/engine/keys/keys.js';
import { openNativeDataPlane } from '../../../main/engine/dataplane/native-data-plane.js';
import type { PeerConfig } from '../../../main/engine/dataplane/data-plane.js';
import { readAgentConfig } from '../support/agent-config.js';
import { emit, joinTailnet, peerHome, waitDerpConnected, type JoinArgs } from '../support/tailnet-agent.js';
import { realClock } from '../derp/support.js';

interface Args extends JoinArgs { directIp?: string }

const args = readAgentConfig<Args>();
const tn = await joinTailnet(args, 'dp-agent');
const { random, log, node, codec, client, hostinfo, mapReq, peers, derpMap, addresses } = tn;

// Home DERP: the lowest region (no netcheck needed for a DERP-only test); tell control.
const home = Math.min(...Object.keys(derpMap.Regions ?? {}).map(Number));
hostinfo.NetInfo = { PreferredDERP: home };
await client.mapUpdate({ ...mapReq, Hostinfo: hostinfo as never });

const derp = new DerpManager({ nodeKey: node, clock: realClock, random, logger: log });
derp.setDerpMap(derpMap);
derp.setHome(home);

const dp = openNativeDataPlane({ tunName: 'mt0', mtu: 1280, listenPort: 0, privateKey: node.rawBytes(), addresses }, log);
// Route the tailnet ranges into our TUN (inside this lab namespace only).
for (const r of [['-4', '100.64.0.0/10'], ['-6', 'fd7a:115c:a1e0::/48']]) {
  spawnSync('ip', [r[0]!, 'route', 'replace', r[1]!, 'dev', 'mt0'], { stdio: 'ignore' });
}

/** Peers whose direct path a disco pong proved: node key -> "ip:port". */
const direct = new Map<string, string>();
const applyPeers = (): void => {
  const list: PeerConfig[] = [...peers.values()].map((p) => {
    const ep = direct.get(p.Key) ?? null;
    return {
      publicKey: PublicKey.parse('node', p.Key),
      // AllowedIPs absent means "same as Addresses" (dataplane.md §5).
      allowedIps: p.AllowedIPs ?? p.Addresses ?? [],
      endpoint: ep,
      useDerp: ep === null,
    };
  });
  dp.setPeers(list);
  emit({ event: 'peers', count: list.length });
};
tn.onPeers = applyPeers;
applyPeers();

dp.onDerpSend((dst, bytes) => {
  if (!derp.send(dst, peerHome(peers.get(dst.toString())), bytes)) emit({ event: 'derp-send-failed' });
});

derp.on('packet', (region: number, src: PublicKey<'node'>, data: Uint8Array) => {
  if (!looksLikeDisco(data)) {
    dp.injectFromDerp(src, data);
    return;
  }
  const opened = codec.open(data, tn.knownDisco);
  if (opened?.msg.type === 'ping') {
    derp.send(src, region, codec.seal(opened.sender, { type: 'pong', txid: opened.msg.txid, src: derpMagicAddr(region) }));
  }
});

const parseIpPort = (a: string): IpPort => {
  const i = a.lastIndexOf(':');
  return { ip: a.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(a.slice(i + 1)) };
};
const pendingPings = new Map<string, { peerKey: string; to: string }>();
if (args.directIp) {
  await client.mapUpdate({ ...mapReq, Hostinfo: hostinfo as never, Endpoints: [`${args.directIp}:${dp.port}`], EndpointTypes: [1] } as never);
  dp.onDisco((src, bytes) => {
    const opened = codec.open(bytes, tn.knownDisco);
    if (!opened) return;
    const m = opened.msg;
    if (m.type === 'ping') {
      // Pong from the same socket, telling the peer the address we saw it at.
      dp.sendUdp(src, codec.seal(opened.sender, { type: 'pong', txid: m.txid, src: parseIpPort(src) }));
      emit({ event: 'udp-ping', from: src });
    } else if (m.type === 'pong') {
      const k = Buffer.from(m.txid).toString('hex');
      const p = pendingPings.get(k);
      if (p && p.to === src && !direct.has(p.peerKey)) {
        direct.set(p.peerKey, src);
        applyPeers();
        emit({ event: 'direct', peer: p.peerKey, endpoint: src, pongSrc: formatIpPort(m.src) });
      }
    }
  });
  const pingEndpoints = (): void => {
    for (const p of peers.values()) {
      if (!p.DiscoKey || direct.has(p.Key)) continue;
      for (const ep of p.Endpoints ?? []) {
        if (ep.startsWith('[')) continue; // v4 only in this lab
        const txid = random.bytes(12);
        pendingPings.set(Buffer.from(txid).toString('hex'), { peerKey: p.Key, to: ep });
        try {
          dp.sendUdp(ep, codec.seal(PublicKey.parse('disco', p.DiscoKey), { type: 'ping', txid, nodeKey: node.public, padding: 0 }));
        } catch { /* unreachable endpoint; try the next */ }
      }
    }
  };
  setInterval(pingEndpoints, 1000).unref();
}

await waitDerpConnected(derp, home);
emit({ event: 'ready', home, addresses, nodeKey: node.public.toString(), tun: dp.tunName, port: dp.port });

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === 'counters') emit({ event: 'counters', counters: dp.counters() });
});
rl.on('close', async () => {
  dp.close();
  tn.close();
  await derp.close();
  process.exit(0);
});
