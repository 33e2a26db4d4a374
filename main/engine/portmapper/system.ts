// The real PortmapIO: node:dgram sockets, node:http, and the default gateway from /proc/net/route
// (Linux; tailscale net/netmon likelyHomeRouterIPLinux reads the same file). Elsewhere gateway()
// answers undefined and the port mapper stays idle.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { GatewayInfo, PortmapHttpRequest, PortmapHttpResponse, PortmapIO, PortmapUdp } from './io.js';

const MAX_HTTP_BODY = 256 * 1024;

function openUdp(): Promise<PortmapUdp> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4' });
    let closed = false;
    s.once('error', reject);
    s.bind(0, () => {
      s.removeListener('error', reject);
      s.on('error', () => undefined); // ICMP errors on a probe socket are not interesting
      resolve({
        send: (pkt, ip, port) => {
          if (!closed) s.send(pkt, port, ip, () => undefined);
        },
        onMessage: (cb) => {
          s.on('message', (msg, rinfo) => cb(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), { ip: rinfo.address, port: rinfo.port }));
        },
        close: () => {
          if (closed) return;
          closed = true;
          try { s.close(); } catch { /* already closed */ }
        },
      });
    });
  });
}

function http(req: PortmapHttpRequest): Promise<PortmapHttpResponse> {
  return new Promise((resolve, reject) => {
    const body = req.body !== undefined ? Buffer.from(req.body, 'utf8') : undefined;
    const r = request(req.url, {
      method: req.method,
      headers: { ...(req.headers ?? {}), ...(body ? { 'Content-Length': String(body.length) } : {}), Connection: 'close' },
      timeout: req.timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_HTTP_BODY) {
          r.destroy(new Error('UPnP answer too large'));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end(body);
  });
}

/** /proc/net/route hex (little-endian on the machines we run on) → dotted IPv4. */
export function hexToIPv4(h: string): string {
  const n = parseInt(h, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
}

/** The default route's gateway and interface from /proc/net/route text. */
export function defaultRouteFromProc(text: string): { iface: string; gateway: string } | undefined {
  let best: { iface: string; gateway: string; metric: number } | undefined;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, gw, flags, , , metric, mask] = f as [string, string, string, string, string, string, string, string];
    const fl = parseInt(flags, 16);
    // RTF_UP (1) | RTF_GATEWAY (2), destination and mask 0.0.0.0
    if (dest !== '00000000' || mask !== '00000000' || (fl & 3) !== 3) continue;
    const m = Number(metric);
    if (!best || m < best.metric) best = { iface, gateway: hexToIPv4(gw), metric: m };
  }
  return best ? { iface: best.iface, gateway: best.gateway } : undefined;
}

export function isPrivateIPv4(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number) as [number, number];
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, x) => ((acc << 8) | Number(x)) >>> 0, 0);
}

/** Only a private gateway with our private address beside it (tailscale LikelyHomeRouterIP). */
export function likelyHomeRouter(routeText: string, ifaces: ReturnType<typeof networkInterfaces>): GatewayInfo | undefined {
  const d = defaultRouteFromProc(routeText);
  if (!d || !isPrivateIPv4(d.gateway)) return undefined;
  for (const a of ifaces[d.iface] ?? []) {
    if (a.family !== 'IPv4' || a.internal || !isPrivateIPv4(a.address)) continue;
    const mask = ipToInt(a.netmask);
    if ((ipToInt(a.address) & mask) === (ipToInt(d.gateway) & mask)) return { gateway: d.gateway, self: a.address };
  }
  return undefined;
}

function gateway(): GatewayInfo | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return undefined;
  }
  return likelyHomeRouter(text, networkInterfaces());
}

export const systemPortmapIO: PortmapIO = { openUdp, http, gateway };
