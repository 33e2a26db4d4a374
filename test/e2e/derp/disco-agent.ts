// Runs inside a lab namespace as a minimal Meshtray node: registers with Headscale (control
// client), learns the DERP map and its peers from the map stream, runs netcheck to pick a home
// DERP and reports it in Hostinfo.NetInfo, connects DERP, disco-pings the named tailscaled peer
// over DERP and answers that peer's disco pings with pongs. Events go to stdout as JSON lines;
// it exits when stdin closes. Config: JSON { serverURL, authKey, hostname, peerHostname } in the
// environment (test/e2e/support/agent-config.ts), so the pre-auth key is not on the command line.
import { DerpManager } from '../../../main/engine/derp/manager.js';
import { looksLikeDisco } from '../../../main/engine/disco/packet.js';
import { networkInterfaces } from 'node:os';
import { derpMagicAddr, formatIpPort, type IpPort } from '../../../main/engine/disco/addr.js';
import { PublicKey } from '../../../main/engine/keys/keys.js';
import { Netcheck } from '../../../main/engine/netcheck/netcheck.js';
import { UdpStunSocket } from '../../../main/engine/netcheck/udp-socket.js';
import { readAgentConfig } from '../support/agent-config.js';
import { emit, joinTailnet, peerHome, waitDerpConnected, type JoinArgs, type PeerNode } from '../support/tailnet-agent.js';
import { realClock } from './support.js';

interface Args extends JoinArgs { peerHostname: string }

const args = readAgentConfig<Args>();
const tn = await joinTailnet(args, 'agent');
const { random, log, node, codec, client, hostinfo, mapReq, peers, derpMap } = tn;

// Netcheck from our own UDP socket (kept open afterwards for disco over UDP), then tell control
// our home region and endpoints (STUN-learned public ip:port, then the local address).
const nc = new Netcheck({ clock: realClock, random, logger: log });
let onUdp: (packet: Uint8Array, from: IpPort) => void = () => undefined;
const sock = await UdpStunSocket.open(nc, 41641, undefined, (p, from) => onUdp(p, from));
const report = await nc.run(derpMap, sock);
const home = report.preferredDERP || Number(Object.keys(derpMap.Regions ?? {}).sort()[0]);
hostinfo.NetInfo = {
  PreferredDERP: home, WorkingUDP: report.udp, MappingVariesByDestIP: report.mappingVariesByDestIP ?? null,
  DERPLatency: Object.fromEntries([...report.regionLatency].map(([id, ns]) => [`${id}-v4`, ns / 1e9])),
};
const localIPv4 = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
const endpoints = [...(report.globalV4 ? [formatIpPort(report.globalV4)] : []), ...(localIPv4 ? [`${localIPv4}:41641`] : [])];
await client.mapUpdate({ ...mapReq, Hostinfo: hostinfo as never, Endpoints: endpoints, EndpointTypes: endpoints.map((_e, i) => (i === 0 && report.globalV4 ? 2 : 1)) as never });
emit({ event: 'netcheck', home, udp: report.udp, globalV4: report.globalV4 ? formatIpPort(report.globalV4) : '' });

const derp = new DerpManager({ nodeKey: node, clock: realClock, random, logger: log });
derp.setDerpMap(derpMap);
derp.setHome(home);

const findPeer = (): PeerNode | undefined => [...peers.values()].find((p) => p.Hostinfo?.Hostname === args.peerHostname || p.Name?.startsWith(args.peerHostname + '.'));
const pending = new Map<string, { at: number }>();

derp.on('packet', (region, src, data) => {
  if (!looksLikeDisco(data)) {
    emit({ event: 'non-disco', region, bytes: data.length });
    return;
  }
  const opened = codec.open(data, tn.knownDisco);
  if (!opened) {
    emit({ event: 'disco-dropped', region, counters: codec.counters.snapshot() });
    return;
  }
  const m = opened.msg;
  if (m.type === 'ping') {
    // Answer over the path it came on (DERP region), with Src = the DERP magic address.
    derp.send(src, region, codec.seal(opened.sender, { type: 'pong', txid: m.txid, src: derpMagicAddr(region) }));
    emit({ event: 'pinged', region, from: src.toString(), nodeKeyInPing: m.nodeKey?.toString() });
  } else if (m.type === 'pong') {
    const k = Buffer.from(m.txid).toString('hex');
    const p = pending.get(k);
    if (p) {
      pending.delete(k);
      emit({ event: 'pong', region, from: src.toString(), latencyMs: Date.now() - p.at, src: formatIpPort(m.src) });
    }
  } else if (m.type === 'callMeMaybe') {
    // The peer's endpoints: ping each over UDP so our NAT opens towards it (magicsock does the same).
    emit({ event: 'callMeMaybe', region, endpoints: m.endpoints.map(formatIpPort) });
    for (const ep of m.endpoints) if (!ep.ip.includes(':')) udpPing(opened.sender, src, ep);
  } else {
    emit({ event: 'disco', type: m.type, region });
  }
});

const udpPending = new Map<string, { at: number; to: string }>();
function udpPing(peerDisco: PublicKey<'disco'>, _peerNode: PublicKey<'node'>, ep: IpPort): void {
  const txid = random.bytes(12);
  udpPending.set(Buffer.from(txid).toString('hex'), { at: Date.now(), to: formatIpPort(ep) });
  void sock.send(codec.seal(peerDisco, { type: 'ping', txid, nodeKey: node.public, padding: 0 }), ep.ip, ep.port).catch(() => undefined);
}

// Disco over UDP on the same socket as STUN: answer pings with pongs carrying the source we saw.
onUdp = (packet, from) => {
  if (!looksLikeDisco(packet)) return;
  const opened = codec.open(packet, tn.knownDisco);
  if (!opened) {
    emit({ event: 'udp-disco-dropped', counters: codec.counters.snapshot() });
    return;
  }
  const m = opened.msg;
  if (m.type === 'ping') {
    void sock.send(codec.seal(opened.sender, { type: 'pong', txid: m.txid, src: from }), from.ip, from.port).catch(() => undefined);
    emit({ event: 'udp-pinged', from: formatIpPort(from), nodeKeyInPing: m.nodeKey?.toString() });
  } else if (m.type === 'pong') {
    const k = Buffer.from(m.txid).toString('hex');
    const p = udpPending.get(k);
    if (p) {
      udpPending.delete(k);
      emit({ event: 'udp-pong', from: formatIpPort(from), to: p.to, latencyMs: Date.now() - p.at, src: formatIpPort(m.src) });
    }
  }
};
derp.on('state', (region, state, info) => emit({ event: 'derp-state', region, state, ...(info.error ? { error: info.error } : {}) }));

await waitDerpConnected(derp, home);
emit({ event: 'ready', home, addresses: tn.addresses, nodeKey: node.public.toString() });

// Disco-ping the tailscaled peer via DERP, once a second, until it answers (it must first learn our disco key from control).
const target = async (): Promise<void> => {
  for (let i = 0; i < 30; i++) {
    const p = findPeer();
    const region = peerHome(p);
    if (p?.DiscoKey && region) {
      const txid = random.bytes(12);
      pending.set(Buffer.from(txid).toString('hex'), { at: Date.now() });
      const pkt = codec.seal(PublicKey.parse('disco', p.DiscoKey), { type: 'ping', txid, nodeKey: node.public, padding: 0 });
      derp.send(PublicKey.parse('node', p.Key), region, pkt);
      emit({ event: 'ping-sent', region });
    }
    await new Promise((r) => setTimeout(r, 1000));
    if (pending.size === 0 && i > 0) return;
  }
};
void target();

process.stdin.resume();
process.stdin.on('end', async () => {
  tn.close();
  await derp.close();
  await sock.close();
  process.exit(0);
});
