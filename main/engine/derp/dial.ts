// TCP + TLS to a DERP node (tailscale derp/derphttp/derphttp_client.go `dialNode`, `tlsClient`;
// net/tlsdial/tlsdial.go `SetConfigExpectedCertHash`).
// Verification rules, in Go's precedence:
//  - CertName "sha256-raw:<hex>": the CA chain is NOT consulted; the leaf certificate's SHA-256
//    must equal the pin, it must be valid now and match HostName. Nothing else is accepted.
//  - else InsecureForTests: no verification (tests / local derper only).
//  - else normal CA verification against CertName if set, else HostName.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Clock } from '../ports/ports.js';
import { derpPort, type DerpNode } from './derp-map.js';

export type DerpDialer = (node: DerpNode, timeoutMs: number) => Promise<Duplex>;

export class DerpDialError extends Error {
  constructor(readonly reason: 'no-address' | 'timeout' | 'cert-pin-mismatch' | 'cert-invalid' | 'connect-failed', detail: string) {
    super(`derp dial: ${reason}: ${detail}`);
    this.name = 'DerpDialError';
  }
}

/** Which host to dial: the IPv4 literal, else IPv6 literal, else HostName via DNS when IPv4 is empty. */
export function dialHost(node: DerpNode): string | undefined {
  const v4 = node.IPv4 ?? '';
  const v6 = node.IPv6 ?? '';
  if (isIP(v4) === 4) return v4;
  if (v4 === '' && node.HostName) return node.HostName;
  if (isIP(v6) === 6) return v6;
  if (v6 === '' && node.HostName) return node.HostName;
  return undefined;
}

/** The pin check of a presented leaf certificate; returns why it fails, or undefined when good. */
export function checkPinnedCert(
  cert: Pick<tls.PeerCertificate, 'raw' | 'valid_from' | 'valid_to' | 'subject' | 'subjectaltname'>,
  pinHex: string,
  hostName: string,
  nowMs: number,
): string | undefined {
  if (!cert.raw || cert.raw.length === 0) return 'no certificate presented';
  const got = createHash('sha256').update(cert.raw).digest('hex');
  if (got !== pinHex.toLowerCase()) return `cert hash ${got} does not match pin`;
  if (hostName) {
    const err = tls.checkServerIdentity(hostName, cert as tls.PeerCertificate);
    if (err) return `cert does not match server name ${hostName}: ${err.message}`;
  }
  const from = Date.parse(cert.valid_from);
  const to = Date.parse(cert.valid_to);
  if (!Number.isNaN(to) && nowMs > to) return `cert expired ${cert.valid_to}`;
  if (!Number.isNaN(from) && nowMs < from) return `cert not yet valid until ${cert.valid_from}`;
  return undefined;
}

const PIN_PREFIX = 'sha256-raw:';

/** The real dialer: TCP then TLS with the rules above. */
export function tlsDialer(clock: Clock): DerpDialer {
  return (node, timeoutMs) =>
    new Promise<Duplex>((resolve, reject) => {
      const host = dialHost(node);
      if (!host) {
        reject(new DerpDialError('no-address', `node ${node.Name} has no usable address`));
        return;
      }
      const pin = node.CertName?.startsWith(PIN_PREFIX) ? node.CertName.slice(PIN_PREFIX.length) : undefined;
      const insecure = !pin && node.InsecureForTests === true;
      const expectName = pin ? node.HostName : node.CertName || node.HostName;
      const opts: tls.ConnectionOptions = {
        host,
        port: derpPort(node),
        // RFC 6066 forbids IP literals in SNI; Go omits them too.
        ...(isIP(node.HostName) ? {} : { servername: node.HostName }),
        rejectUnauthorized: !pin && !insecure,
        checkServerIdentity: (_h, cert) => tls.checkServerIdentity(expectName, cert),
      };
      let done = false;
      const sock = tls.connect(opts);
      const timer = clock.setTimeout(() => fail(new DerpDialError('timeout', `${host}:${derpPort(node)} after ${timeoutMs} ms`)), timeoutMs);
      const fail = (e: Error): void => {
        if (done) return;
        done = true;
        timer.cancel();
        sock.destroy();
        reject(e instanceof DerpDialError ? e : new DerpDialError(/certificate|self.signed|unable to verify/i.test(e.message) ? 'cert-invalid' : 'connect-failed', e.message));
      };
      sock.once('error', fail);
      sock.once('secureConnect', () => {
        if (done) return;
        if (pin) {
          const why = checkPinnedCert(sock.getPeerCertificate(false), pin, node.HostName, clock.now());
          if (why) {
            fail(new DerpDialError('cert-pin-mismatch', why));
            return;
          }
        }
        done = true;
        timer.cancel();
        sock.removeListener('error', fail);
        resolve(sock);
      });
    });
}
