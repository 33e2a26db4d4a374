// The MagicDNS responder behind 100.100.100.100 / fd7a:115c:a1e0::53 (tailscale
// net/dns/resolver/tsdns.go respond/resolveLocal/resolveLocalReverse, forwarder.go). Transport-free:
// callers (the socket server, the TUN intercept) hand it one DNS message and send back what it
// returns. Wire format through dns-packet; malformed input never throws out of here.
import dnsPacket from 'dns-packet';
import type { Logger } from '../ports/ports.js';
import { canonicalIP } from '../netmap/ip.js';
import { inDomain, QUAD100, QUAD100_V6, SYMBOLIC_FQDN, type ResolverConfig, type UpstreamResolver } from './dns-config.js';

/** Positive TTL. tailscale main (tsdns.go defaultTTL) uses 5 s so renames show quickly; v1.98 used 600 s. */
export const POSITIVE_TTL = 5;
/** Negative answers carry an SOA with this TTL and minimum (RFC 2308; tsdns.go negativeTTL). */
export const NEGATIVE_TTL = 10;
/** tsdns maxResponseBytes */
export const MAX_RESPONSE_BYTES = 4095;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Sends one query to one upstream; resolves with the raw answer or rejects (timeout, error). */
export interface Upstream {
  query(msg: Uint8Array, to: UpstreamResolver, opts: { tcp: boolean; timeoutMs: number }): Promise<Uint8Array>;
}

export interface ResolverCounters {
  queries: number;
  local: number;
  forwarded: number;
  servfail: number;
  nxdomain: number;
  /** Unparseable queries: FORMERR when the header could be read, else dropped. */
  malformed: number;
  dropped: number;
}

export interface MagicDNSResolverOptions {
  readonly upstream: Upstream;
  readonly logger?: Logger;
  /** Whole-query deadline for forwarding; SERVFAIL after it. tailscale's forwarder gives up at ~5 s (TCP). */
  readonly forwardTimeoutMs?: number;
  /** Serial for negative-answer SOAs (tailscale uses the current Unix time). */
  readonly nowSeconds?: () => number;
}

type Question = dnsPacket.Question;

function reverseToIP(name: string): string | undefined {
  if (name.endsWith('.in-addr.arpa.')) {
    const parts = name.slice(0, -'.in-addr.arpa.'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && String(Number(p)) === p)) return undefined;
    return parts.reverse().join('.');
  }
  if (name.endsWith('.ip6.arpa.')) {
    const nib = name.slice(0, -'.ip6.arpa.'.length).split('.');
    if (nib.length !== 32 || !nib.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const hex = nib.reverse().join('');
    return canonicalIP(hex.match(/.{4}/g)!.join(':'));
  }
  return undefined;
}

export class MagicDNSResolver {
  private cfg: ResolverConfig = { hosts: new Map(), ptr: new Map(), localDomains: [], routes: new Map() };
  private readonly counters: ResolverCounters = { queries: 0, local: 0, forwarded: 0, servfail: 0, nxdomain: 0, malformed: 0, dropped: 0 };

  constructor(private readonly opts: MagicDNSResolverOptions) {}

  setConfig(cfg: ResolverConfig): void {
    this.cfg = cfg;
  }

  stats(): Readonly<ResolverCounters> {
    return { ...this.counters };
  }

  /**
   * Answers one DNS message. `undefined` = drop (not even a header to answer to). TCP answers are
   * never truncated; UDP answers above 4095 bytes are cut to the header+question with TC set.
   */
  async handle(msg: Uint8Array, transport: 'udp' | 'tcp' = 'udp'): Promise<Uint8Array | undefined> {
    this.counters.queries++;
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength));
    } catch (e) {
      return this.formErr(msg, `undecodable query: ${(e as Error).message}`);
    }
    const question = q.questions?.[0];
    if (q.type !== 'query' || !question || q.questions!.length !== 1 || (q.flags ?? 0) & 0x7800 /* opcode */) {
      if (q.type === 'response') {
        this.counters.dropped++;
        return undefined; // never answer an answer (reflection loops)
      }
      return this.formErr(msg, 'not a single-question standard query');
    }
    const name = question.name.toLowerCase().replace(/\.?$/, '.');
    if (name.includes('..') && name !== '.') return this.formErr(msg, 'bad name');

    const local = this.resolveLocal(q, question, name);
    if (local) {
      this.counters.local++;
      return this.finish(local, transport);
    }
    return this.forward(q, msg, name, transport);
  }

  private formErr(msg: Uint8Array, why: string): Uint8Array | undefined {
    this.counters.malformed++;
    this.opts.logger?.debug('dns: malformed query', { why, len: msg.length });
    if (msg.length < 12) {
      this.counters.dropped++;
      return undefined;
    }
    // Header only: same ID and opcode, QR set, RCODE FORMERR, all counts zero.
    const out = new Uint8Array(12);
    out[0] = msg[0]!;
    out[1] = msg[1]!;
    out[2] = 0x80 | (msg[2]! & 0x79); // QR + opcode + RD
    out[3] = RCODE.FORMERR;
    return out;
  }

  private respond(q: dnsPacket.DecodedPacket, question: Question, rcode: number, answers: dnsPacket.Answer[], soaZone?: string): dnsPacket.Packet {
    const rd = (q.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    const flags = dnsPacket.AUTHORITATIVE_ANSWER | rd | (rd ? dnsPacket.RECURSION_AVAILABLE : 0) | rcode;
    const authorities: dnsPacket.Answer[] = [];
    if (soaZone) {
      authorities.push({
        type: 'SOA',
        name: soaZone.replace(/\.$/, '') || '.',
        ttl: NEGATIVE_TTL,
        data: {
          mname: soaZone.replace(/\.$/, '') || '.',
          rname: soaZone.replace(/\.$/, '') || '.',
          serial: (this.opts.nowSeconds?.() ?? Math.floor(Date.now() / 1000)) >>> 0,
          refresh: NEGATIVE_TTL,
          retry: NEGATIVE_TTL,
          expire: NEGATIVE_TTL,
          minimum: NEGATIVE_TTL,
        },
      });
    }
    return { type: 'response', id: q.id ?? 0, flags, questions: [question], answers, authorities };
  }

  private authoritativeZoneFor(name: string): string | undefined {
    let best: string | undefined;
    for (const d of this.cfg.localDomains) if (inDomain(name, d) && (!best || d.length > best.length)) best = d;
    return best;
  }

  /** A response, or undefined to forward. */
  private resolveLocal(q: dnsPacket.DecodedPacket, question: Question, name: string): dnsPacket.Packet | undefined {
    if (question.type === 'PTR') {
      const ip = reverseToIP(name);
      if (!ip) return undefined;
      if (ip === QUAD100 || ip === QUAD100_V6) {
        return this.respond(q, question, RCODE.NOERROR, [{ type: 'PTR', name: question.name, ttl: POSITIVE_TTL, data: SYMBOLIC_FQDN.slice(0, -1) }]);
      }
      const fqdn = this.cfg.ptr.get(ip);
      if (fqdn) return this.respond(q, question, RCODE.NOERROR, [{ type: 'PTR', name: question.name, ttl: POSITIVE_TTL, data: fqdn.slice(0, -1) }]);
      const zone = this.authoritativeZoneFor(name);
      if (zone) {
        this.counters.nxdomain++;
        return this.respond(q, question, RCODE.NXDOMAIN, [], zone);
      }
      return undefined;
    }
    if (name === 'onion.' || name.endsWith('.onion.')) {
      this.counters.nxdomain++;
      return this.respond(q, question, RCODE.NXDOMAIN, []);
    }
    let ips: readonly string[] | undefined;
    if (name === SYMBOLIC_FQDN) ips = [QUAD100, QUAD100_V6];
    else ips = this.cfg.hosts.get(name);
    if (!ips) {
      const zone = this.authoritativeZoneFor(name);
      if (!zone) return undefined;
      this.counters.nxdomain++;
      return this.respond(q, question, RCODE.NXDOMAIN, [], zone);
    }
    const zone = this.authoritativeZoneFor(name);
    switch (question.type) {
      case 'A':
      case 'AAAA': {
        const want6 = question.type === 'AAAA';
        const ip = ips.find((a) => a.includes(':') === want6);
        if (!ip) return this.respond(q, question, RCODE.NOERROR, [], zone);
        return this.respond(q, question, RCODE.NOERROR, [{ type: question.type, name: question.name, ttl: POSITIVE_TTL, data: ip }]);
      }
      case 'NS':
      case 'SOA':
      case 'AXFR':
      case 'HINFO':
        return this.respond(q, question, RCODE.NOTIMP, []);
      default:
        // The name exists; no records of that type: NOERROR, no data.
        return this.respond(q, question, RCODE.NOERROR, [], zone);
    }
  }

  private finish(p: dnsPacket.Packet, transport: 'udp' | 'tcp'): Uint8Array {
    let out: Uint8Array = dnsPacket.encode(p);
    if (transport === 'udp' && out.length > MAX_RESPONSE_BYTES) {
      out = dnsPacket.encode({ ...p, flags: (p.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: [] });
    }
    return out;
  }

  private routeFor(name: string): readonly UpstreamResolver[] | undefined {
    let best: string | undefined;
    for (const s of this.cfg.routes.keys()) if (inDomain(name, s) && (!best || s.length > best.length)) best = s;
    return best === undefined ? undefined : this.cfg.routes.get(best);
  }

  private async forward(q: dnsPacket.DecodedPacket, msg: Uint8Array, name: string, transport: 'udp' | 'tcp'): Promise<Uint8Array> {
    const ups = this.routeFor(name);
    const question = q.questions![0]!;
    const servfail = (why: string): Uint8Array => {
      this.counters.servfail++;
      this.opts.logger?.debug('dns: SERVFAIL', { name, why });
      const p = this.respond(q, question, RCODE.SERVFAIL, []);
      p.flags = (p.flags ?? 0) & ~dnsPacket.AUTHORITATIVE_ANSWER;
      return dnsPacket.encode(p);
    };
    if (!ups || ups.length === 0) return servfail('no upstream for this name');
    this.counters.forwarded++;
    const timeoutMs = this.opts.forwardTimeoutMs ?? 5000;
    // All resolvers of the set in parallel; the first usable answer wins (forwarder.go forwardWithDestChan).
    const attempts = ups.map((u) => this.opts.upstream.query(msg, u, { tcp: transport === 'tcp', timeoutMs }).then((r) => checkAnswer(r, q.id ?? 0)));
    try {
      return await Promise.any(attempts);
    } catch (e) {
      const errs = e instanceof AggregateError ? e.errors.map((x: unknown) => (x as Error).message) : [String(e)];
      return servfail(errs.join('; '));
    }
  }
}

function checkAnswer(r: Uint8Array, id: number): Uint8Array {
  if (r.length < 12) throw new Error('short answer from upstream');
  if (((r[0]! << 8) | r[1]!) !== id) throw new Error('answer ID mismatch');
  if (!(r[2]! & 0x80)) throw new Error('upstream sent a query, not an answer');
  return r;
}
