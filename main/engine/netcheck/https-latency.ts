// Latency to a DERP region over HTTPS when UDP is blocked (tailscale net/netcheck/netcheck.go
// `measureHTTPSLatency`): dial the region as for DERP (same TLS and pin rules), then time one
// `GET /derp/latency-check` on that connection; only a 2xx answer counts.
import type { Duplex } from 'node:stream';
import type { DerpDialer } from '../derp/dial.js';
import type { DerpRegion } from '../derp/derp-map.js';
import type { Clock } from '../ports/ports.js';

export async function measureHttpsLatency(region: DerpRegion, dial: DerpDialer, clock: Clock, nowNs: () => number, timeoutMs: number): Promise<number | undefined> {
  const node = (region.Nodes ?? []).find((n) => !n.STUNOnly);
  if (!node) return undefined;
  let sock: Duplex | undefined;
  try {
    sock = await dial(node, timeoutMs);
    const s = sock;
    return await new Promise<number | undefined>((resolve) => {
      const start = nowNs();
      let head = '';
      const timer = clock.setTimeout(() => resolve(undefined), timeoutMs);
      s.on('data', (d: Buffer) => {
        head += d.toString('latin1');
        const line = head.split('\r\n', 1)[0] ?? '';
        if (head.includes('\r\n')) {
          timer.cancel();
          const m = /^HTTP\/1\.[01] (\d{3})/.exec(line);
          resolve(m && m[1]!.startsWith('2') ? Math.max(1, nowNs() - start) : undefined);
        }
      });
      s.on('error', () => { timer.cancel(); resolve(undefined); });
      s.on('close', () => { timer.cancel(); resolve(undefined); });
      s.write(`GET /derp/latency-check HTTP/1.1\r\nHost: ${node.HostName}\r\nUser-Agent: meshtray\r\nConnection: close\r\n\r\n`);
    });
  } catch {
    return undefined;
  } finally {
    sock?.destroy();
  }
}
