// Loads the Tailscale-generated golden bytes (see test/fixtures/disco/README.md).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export interface GoldenMessage { name: string; plain: string; theirs: string; oursNonce: string; oursWant: string }
export interface Golden {
  discoAPriv: string; discoAPub: string; discoBPriv: string; discoBPub: string;
  nodeAPriv: string; nodeAPub: string; serverPriv: string; serverPub: string;
  txid: string; messages: GoldenMessage[];
  derpClientInfoSealed: string; derpServerInfoSealed: string;
  stunTxID: string; stunRequest: string; stunResponseV4: string; stunResponseV6: string;
}

function findRepoRoot(): string {
  // Works from the source tree (tsx) and from dist/test (compiled).
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    try {
      readFileSync(resolve(d, 'test/fixtures/disco/golden-v1.98.10.json'));
      return d;
    } catch {
      d = resolve(d, '..');
    }
  }
  throw new Error('cannot find test/fixtures/disco/golden-v1.98.10.json');
}

export const golden: Golden = JSON.parse(
  readFileSync(resolve(findRepoRoot(), 'test/fixtures/disco/golden-v1.98.10.json'), 'utf8'),
) as Golden;

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
