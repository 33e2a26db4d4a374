// The TLS rules of the DERP dialer against an in-process TLS server with a self-signed IP cert
// (made with the openssl CLI, as derper's -certmode manual would): pin accepted, wrong pin,
// unpinned self-signed, InsecureForTests, host name mismatch, expiry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { checkPinnedCert, dialHost, DerpDialError, tlsDialer } from '../../../../main/engine/derp/dial.js';
import type { DerpNode } from '../../../../main/engine/derp/derp-map.js';
import { realClock } from '../../../doubles/real-clock.js';

const dir = mkdtempSync(join(tmpdir(), 'meshtray-dial-'));
let server: tls.Server;
let port = 0;
let pin = '';
let certPem = '';

before(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
  pin = createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
  server = tls.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: certPem }, (s) => s.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const node = (o: Partial<DerpNode>): DerpNode => ({ Name: 'n', RegionID: 900, HostName: '127.0.0.1', IPv4: '127.0.0.1', DERPPort: port, ...o });

async function reason(n: DerpNode): Promise<string> {
  try {
    const s = await tlsDialer(realClock)(n, 3000);
    s.destroy();
    return 'connected';
  } catch (e) {
    assert.ok(e instanceof DerpDialError, String(e));
    return e.reason;
  }
}

test('sha256-raw pin of the served cert: connects although the CA chain is untrusted', async () => {
  assert.equal(await reason(node({ CertName: `sha256-raw:${pin}` })), 'connected');
});

test('wrong pin is refused, even with InsecureForTests set (the pin wins, as in Go)', async () => {
  assert.equal(await reason(node({ CertName: `sha256-raw:${'ab'.repeat(32)}` })), 'cert-pin-mismatch');
  assert.equal(await reason(node({ CertName: `sha256-raw:${'ab'.repeat(32)}`, InsecureForTests: true })), 'cert-pin-mismatch');
});

test('no pin: a self-signed cert fails CA verification; InsecureForTests accepts it', async () => {
  assert.equal(await reason(node({})), 'cert-invalid');
  assert.equal(await reason(node({ InsecureForTests: true })), 'connected');
});

test('right pin but the cert does not name HostName: refused', async () => {
  assert.equal(await reason(node({ HostName: 'derp.example.com', CertName: `sha256-raw:${pin}` })), 'cert-pin-mismatch');
});

test('checkPinnedCert: expired or not yet valid', () => {
  const cert = new X509Certificate(certPem);
  const c = { raw: cert.raw, valid_from: cert.validFrom, valid_to: cert.validTo, subject: { CN: '127.0.0.1' } as never, subjectaltname: 'IP Address:127.0.0.1' };
  assert.equal(checkPinnedCert(c, pin, '127.0.0.1', Date.now()), undefined);
  assert.match(checkPinnedCert(c, pin, '127.0.0.1', Date.now() + 60 * 86400_000) ?? '', /expired/);
  assert.match(checkPinnedCert(c, pin, '127.0.0.1', Date.parse(cert.validFrom) - 86400_000) ?? '', /not yet valid/);
  assert.match(checkPinnedCert(c, pin.toUpperCase(), '127.0.0.2', Date.now()) ?? '', /does not match server name/);
});

test('dialHost: IPv4 literal, DNS name when IPv4 empty, "none" disables', () => {
  assert.equal(dialHost(node({})), '127.0.0.1');
  assert.equal(dialHost(node({ IPv4: '', HostName: 'derp.example.com' })), 'derp.example.com');
  assert.equal(dialHost(node({ IPv4: 'none', IPv6: '2001:db8::1' })), '2001:db8::1');
  assert.equal(dialHost(node({ IPv4: 'none', IPv6: 'none' })), undefined);
});
