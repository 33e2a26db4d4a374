// Netcheck: STUN every DERP region from the one UDP socket that carries WireGuard and disco, so
// the public ip:port learned is the mapping of that socket (tailscale net/netcheck/netcheck.go,
// dataplane.md §2). Measures per-region latency, learns GlobalV4/V6, detects endpoint-dependent
// ("hard") NAT by comparing the IPv4 mappings seen by different probes, and picks the home DERP.
// The socket is not owned here: the caller gives a `send` function and feeds STUN replies back
// through `onStunPacket` (the native data plane demultiplexes them off the WireGuard socket).
import { isIP } from 'node:net';
import { formatIpPort, type IpPort } from '../disco/addr.js';
import { Counters } from '../derp/counters.js';
import { regionsOf, stunPort, type DerpMap, type DerpNode, type DerpRegion } from '../derp/derp-map.js';
import type { DerpDialer } from '../derp/dial.js';
import { measureHttpsLatency } from './https-latency.js';
import type { Clock, Logger, Random, Timer } from '../ports/ports.js';
import { buildBindingRequest, isStun, parseBindingResponse, StunError } from '../stun/stun.js';
import { choosePreferredDERP, type PastReport } from './preferred-derp.js';
import { emptyReport, type NetcheckReport } from './report.js';

export interface StunSender {
  /** Sends one datagram; may throw/reject when the family is unreachable. */
  send(packet: Uint8Array, ip: string, port: number): void | Promise<void>;
}

export interface NetcheckOptions {
  clock: Clock;
  random: Random;
  logger: Logger;
  counters?: Counters;
  /** High-resolution monotonic time in ns for RTTs (default: performance.now()). */
  nowNs?: () => number;
}

export interface RunOptions {
  /** Probe IPv6 nodes too (the caller has an IPv6 socket). */
  ipv6?: boolean;
  /** STUN phase budget (Go: 3 s). */
  stunTimeoutMs?: number;
  /** Tries per region and their delays (Go full report: 0, 100, 200 ms). */
  tryDelaysMs?: number[];
  /** ms timestamp of the last DERP frame from the current home, for stickiness. */
  lastHeardFromHome?: number;
  /**
   * When no STUN answer came back, measure each region over HTTPS with this dialer (the DERP
   * TLS dialer), as Go's netcheck does, so a UDP-blocked node still gets a home region.
   */
  httpsFallback?: DerpDialer;
  /** Whole-report budget (Go: 5 s); the HTTPS fallback gets what the STUN phase left. */
  reportTimeoutMs?: number;
  /**
   * Asks which port-mapping services answer (the port mapper's probe), in parallel with STUN, as
   * Go's netcheck does (probePortMapServices). A failure reports all three as false.
   */
  portMapProbe?: () => Promise<{ upnp: boolean; pmp: boolean; pcp: boolean }>;
}

interface Probe {
  region: DerpRegion;
  node: DerpNode;
  family: 4 | 6;
  ip: string;
  port: number;
  sentNs: number;
}

export class Netcheck {
  readonly counters: Counters;
  private readonly log: Logger;
  private readonly nowNs: () => number;
  private inflight = new Map<string, Probe>();
  private onAnswer: ((p: Probe, addr: IpPort, rttNs: number) => void) | undefined;
  private history: PastReport[] = [];
  private last: NetcheckReport | undefined;
  private running: Promise<NetcheckReport> | undefined;

  constructor(private readonly o: NetcheckOptions) {
    this.counters = o.counters ?? new Counters('netcheck_');
    this.log = o.logger.child('netcheck');
    this.nowNs = o.nowNs ?? (() => performance.now() * 1e6);
  }

  get lastReport(): NetcheckReport | undefined {
    return this.last;
  }

  /**
   * Feed any datagram that arrived on the shared socket; returns true when it was a STUN
   * packet (consumed, even if malformed or unsolicited: it is counted and dropped).
   */
  onStunPacket(packet: Uint8Array, from: IpPort): boolean {
    if (!isStun(packet)) return false;
    let res;
    try {
      res = parseBindingResponse(packet);
    } catch (e) {
      this.counters.inc(e instanceof StunError ? `stun-${e.reason}` : 'stun-error');
      return true;
    }
    const key = Buffer.from(res.txid).toString('hex');
    const probe = this.inflight.get(key);
    if (!probe) {
      this.counters.inc('stun-unsolicited');
      return true;
    }
    if (probe.ip !== from.ip || probe.port !== from.port) {
      // The reply must come from the server we asked (a spoofed txid elsewhere is dropped).
      this.counters.inc('stun-wrong-source');
      return true;
    }
    this.inflight.delete(key);
    this.onAnswer?.(probe, res.addr, Math.max(0, this.nowNs() - probe.sentNs));
    return true;
  }

  /**
   * Runs one full report. Never rejects for network reasons: failures show as UDP=false.
   * A call while a report is running joins that report (one probe set at a time per socket).
   */
  run(map: DerpMap, sender: StunSender, opts: RunOptions = {}): Promise<NetcheckReport> {
    if (this.running) return this.running;
    const p = this.runOnce(map, sender, opts).finally(() => {
      this.running = undefined;
    });
    this.running = p;
    return p;
  }

  private async runOnce(map: DerpMap, sender: StunSender, opts: RunOptions): Promise<NetcheckReport> {
    const { clock } = this.o;
    const started = clock.now();
    const report = emptyReport();
    report.osHasIPv6 = opts.ipv6 === true;
    const regions = regionsOf(map).filter((r) => !r.NoMeasureNoHome && (r.Nodes ?? []).some((n) => stunPort(n) !== undefined));
    const delays = opts.tryDelaysMs ?? [0, 100, 200];
    const timers: Timer[] = [];
    let gotEP4: IpPort | undefined;
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    let done = false;
    let enoughTimer = false;
    const end = (): void => {
      if (done) return;
      done = true;
      finish();
    };
    const wantV4 = (): boolean => true;
    const portMap = opts.portMapProbe
      ? opts.portMapProbe().catch((e: unknown) => {
          this.counters.inc('portmap-probe-failed');
          this.log.debug('port mapping probe failed', { error: String(e) });
          return { upnp: false, pmp: false, pcp: false };
        })
      : undefined;
    const families: (4 | 6)[] = opts.ipv6 ? [4, 6] : [4];

    this.onAnswer = (p, addr, rtt) => {
      if (done) return;
      report.udp = true;
      setMin(report.regionLatency, p.region.RegionID, rtt);
      if (p.family === 6) {
        setMin(report.regionV6Latency, p.region.RegionID, rtt);
        report.ipv6 = true;
        report.globalV6 = addr;
        bump(report.globalV6Counters, formatIpPort(addr));
      } else {
        setMin(report.regionV4Latency, p.region.RegionID, rtt);
        report.ipv4 = true;
        bump(report.globalV4Counters, formatIpPort(addr));
        if (!gotEP4) {
          gotEP4 = addr;
          report.globalV4 = addr;
        } else if (gotEP4.ip !== addr.ip || gotEP4.port !== addr.port) {
          report.mappingVariesByDestIP = true;
        } else if (report.mappingVariesByDestIP === undefined) {
          report.mappingVariesByDestIP = false;
        }
      }
      // Everything measured: every region has a latency and the mapping question is answered.
      const allRegions = regions.every((r) => report.regionLatency.has(r.RegionID));
      if (allRegions && report.mappingVariesByDestIP !== undefined) end();
      // Enough regions (3): wait at most twice the slowest seen so far (full report).
      if (!enoughTimer && report.regionLatency.size >= Math.min(3, regions.length) && regions.length >= 3) {
        enoughTimer = true;
        const maxNs = Math.max(...report.regionLatency.values());
        timers.push(clock.setTimeout(end, Math.max(1, Math.ceil((maxNs * 2) / 1e6))));
      }
    };

    const sendProbe = (region: DerpRegion, node: DerpNode, family: 4 | 6): void => {
      if (done) return;
      // Only probe when it can add information (netcheck.go runProbe preconditions).
      const needLatency = !report.regionLatency.has(region.RegionID);
      const needV6 = family === 6 && !report.ipv6;
      const needMapping = family === 4 && report.mappingVariesByDestIP === undefined && wantV4();
      if (!needLatency && !needV6 && !needMapping) return;
      const ip = probeIP(node, family);
      const port = stunPort(node);
      if (!ip || port === undefined) return;
      const txid = this.o.random.bytes(12);
      const probe: Probe = { region, node, family, ip, port, sentNs: this.nowNs() };
      this.inflight.set(Buffer.from(txid).toString('hex'), probe);
      const markFail = (e: unknown): void => {
        this.counters.inc(`send-failed-v${family}`);
        this.log.debug('stun send failed', { node: node.Name, error: String(e) });
      };
      try {
        const r = sender.send(buildBindingRequest(txid), ip, port);
        if (family === 4) report.ipv4CanSend = true;
        else report.ipv6CanSend = true;
        if (r && typeof (r as Promise<void>).catch === 'function') {
          (r as Promise<void>).catch((e: unknown) => {
            if (family === 4) report.ipv4CanSend = false;
            else report.ipv6CanSend = false;
            markFail(e);
          });
        }
      } catch (e) {
        markFail(e);
      }
    };

    for (const region of regions) {
      const nodes = (region.Nodes ?? []).filter((n) => stunPort(n) !== undefined);
      delays.forEach((d, tryIndex) => {
        const node = nodes[tryIndex % nodes.length]!;
        for (const fam of families) {
          if (d === 0) sendProbe(region, node, fam);
          else timers.push(clock.setTimeout(() => sendProbe(region, node, fam), d));
        }
      });
    }
    if (regions.length === 0) end();
    timers.push(clock.setTimeout(end, opts.stunTimeoutMs ?? 3000));
    await finished;
    for (const t of timers) t.cancel();
    this.onAnswer = undefined;
    this.inflight.clear();

    if (!report.udp && opts.httpsFallback) {
      const left = Math.max(500, (opts.reportTimeoutMs ?? 5000) - (clock.now() - started));
      const measurable = regionsOf(map).filter((r) => !r.NoMeasureNoHome && !r.Avoid);
      const results = await Promise.all(measurable.map((r) => measureHttpsLatency(r, opts.httpsFallback!, clock, this.nowNs, left)));
      measurable.forEach((r, i) => {
        const ns = results[i];
        if (ns !== undefined) setMin(report.regionLatency, r.RegionID, ns);
        else this.counters.inc('https-latency-failed');
      });
    }

    if (portMap) {
      const pm = await portMap;
      report.upnp = pm.upnp;
      report.pmp = pm.pmp;
      report.pcp = pm.pcp;
    }
    report.now = clock.now();
    const prev = this.last?.preferredDERP ?? 0;
    const chosen = choosePreferredDERP({
      now: report.now,
      current: report.regionLatency,
      history: this.history,
      previous: prev,
      scores: map.HomeParams?.RegionScore,
      lastHeardFromPrevious: opts.lastHeardFromHome ?? 0,
      reportStart: started,
    });
    this.history = chosen.history;
    report.preferredDERP = chosen.preferred;
    this.last = report;
    this.log.info('netcheck report', {
      udp: report.udp, v4: report.ipv4, mapvarydest: report.mappingVariesByDestIP, derp: report.preferredDERP,
      globalV4: report.globalV4 ? formatIpPort(report.globalV4) : '',
      ...(portMap ? { upnp: report.upnp, pmp: report.pmp, pcp: report.pcp } : {}),
    });
    return report;
  }
}

function probeIP(node: DerpNode, family: 4 | 6): string | undefined {
  if (node.STUNTestIP && isIP(node.STUNTestIP) === family) return node.STUNTestIP;
  const v = family === 4 ? node.IPv4 : node.IPv6;
  // Only literal addresses are probed; DNS names would need a resolver in the engine (TODO).
  return v && isIP(v) === family ? v : undefined;
}

function setMin(m: Map<number, number>, k: number, v: number): void {
  const o = m.get(k);
  if (o === undefined || v < o) m.set(k, v);
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}
