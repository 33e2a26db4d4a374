// GET {server}/key?v=<capver> over plain HTTP(S), not Noise (tailscale control/controlclient/direct.go
// loadServerPubKeys; Headscale hscontrol/handlers.go KeyHandler). The answer is
// {"legacyPublicKey":"mkey:…","publicKey":"mkey:…"}; very old servers send 64 raw hex digits.
// A zero publicKey means the server does not speak ts2021. At most 64 KiB is read.
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { PublicKey } from '../keys/keys.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { OverTLSPublicKeyResponseSchema } from './messages.js';
import { protocolError } from './noise/frames.js';
import { abortReason } from './deadline.js';
import { upgradeTarget, type SocketFactory } from './upgrade.js';

const MAX_KEY_BODY = 64 << 10;

export interface FetchServerKeyOptions {
  /** Server URL without a trailing slash. */
  base: string;
  capVer: number;
  signal: AbortSignal;
  createSocket?: SocketFactory | undefined;
  /** PEM roots trusted besides the system ones (for a private CA in front of Headscale). */
  extraRootCAs?: string[] | undefined;
}

export function parseServerKeyBody(body: string): PublicKey<'machine'> {
  const trimmed = body.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return PublicKey.fromRaw('machine', new Uint8Array(Buffer.from(trimmed, 'hex')));
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw protocolError('control /key answer is neither JSON nor a hex key');
  }
  const r = OverTLSPublicKeyResponseSchema.safeParse(json);
  if (!r.success) throw protocolError(`control /key answer is malformed: ${r.error.issues[0]?.message ?? 'invalid'}`);
  const key = PublicKey.parse('machine', r.data.publicKey);
  if (key.isZero()) throw protocolError('control server too old: it has no ts2021 public key');
  return key;
}

export function fetchServerKey(opts: FetchServerKeyOptions): Promise<PublicKey<'machine'>> {
  const url = new URL(`${opts.base}/key?v=${opts.capVer}`);
  const target = upgradeTarget(url);
  return new Promise((resolve, reject) => {
    if (opts.signal.aborted) {
      reject(abortReason(opts.signal));
      return;
    }
    let settled = false;
    const settle = (err?: Error, key?: PublicKey<'machine'>) => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(key!);
    };
    const onAbort = () => settle(abortReason(opts.signal));
    const reqOpts: http.RequestOptions = {
      host: target.host,
      port: target.port,
      path: url.pathname + url.search,
      method: 'GET',
      headers: { Host: url.host, Accept: 'application/json' },
      ...(opts.createSocket ? { createConnection: () => opts.createSocket!(target) } : { agent: false }),
    };
    // Unlike the /ts2021 hop, this request verifies TLS normally (as Tailscale does).
    const req = target.tls
      ? https.request({ ...reqOpts, ...(opts.extraRootCAs?.length ? { ca: [...tls.rootCertificates, ...opts.extraRootCAs] } : {}) })
      : http.request(reqOpts);
    opts.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => settle(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `control server ${url.host} unreachable: ${e.message}`, undefined, { cause: e })));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_KEY_BODY) {
          settle(protocolError('control /key answer exceeds 64 KiB'));
          return;
        }
        chunks.push(c);
      });
      res.on('error', (e) => settle(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `reading control /key answer: ${e.message}`)));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          settle(new MeshtrayError('ERR_CONTROL_PROTOCOL', `control /key: HTTP ${res.statusCode}: ${body.slice(0, 200).trim()}`, { status: res.statusCode }));
          return;
        }
        try {
          settle(undefined, parseServerKeyBody(body));
        } catch (e) {
          settle(e as Error);
        }
      });
    });
    req.end();
  });
}

/** A plain HTTP(S) HEAD (for control's ping callbacks); resolves with the status code. */
export function plainHead(url: URL, signal: AbortSignal, createSocket?: SocketFactory, extraRootCAs?: string[]): Promise<number> {
  const target = upgradeTarget(url);
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      req.destroy();
      reject(abortReason(signal));
    };
    const reqOpts: http.RequestOptions = {
      host: target.host,
      port: target.port,
      path: url.pathname + url.search,
      method: 'HEAD',
      headers: { Host: url.host },
      ...(createSocket ? { createConnection: () => createSocket(target) } : { agent: false }),
    };
    const req = target.tls
      ? https.request({ ...reqOpts, ...(extraRootCAs?.length ? { ca: [...tls.rootCertificates, ...extraRootCAs] } : {}) })
      : http.request(reqOpts);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `ping answer to ${url.host} failed: ${e.message}`, undefined, { cause: e }));
    });
    req.on('response', (res) => {
      signal.removeEventListener('abort', onAbort);
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.end();
  });
}
