// https:// control URLs: GET /key verifies TLS normally (extra roots allowed), the /ts2021 upgrade
// runs over TLS without a certificate check (Noise authenticates the server, as in Tailscale's
// controlhttp). Loopback only; the throwaway certificate is made with the openssl CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { PrivateKey } from '../../../../main/engine/keys/keys.js';
import { systemRandom } from '../../../../main/engine/ports/system.js';
import { ControlClient } from '../../../../main/engine/control/client.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { FakeControl } from './fake-control.js';
import { clock, recordingLogger } from './helpers.js';

let dir = '';
let cert = '';
let server: tls.Server | undefined;
let port = 0;
const fake = new FakeControl({ onRegister: (_b, res) => res.end(JSON.stringify({ MachineAuthorized: true })) });

before(async () => {
  dir = mkdtempSync('/tmp/mt-tls-');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=meshtray-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  cert = readFileSync(join(dir, 'c.pem'), 'utf8');
  server = tls.createServer({ key: readFileSync(join(dir, 'k.pem')), cert }, (s) => {
    s.on('error', () => {});
    fake.httpServer.emit('connection', s);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});

after(() => {
  server?.close();
  fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function mk(extraRootCAs?: string[]) {
  return new ControlClient({
    serverURL: `https://127.0.0.1:${port}`,
    machineKey: PrivateKey.generate('machine', systemRandom),
    logger: recordingLogger(),
    clock,
    random: systemRandom,
    pingIntervalMs: 0,
    ...(extraRootCAs ? { extraRootCAs } : {}),
  });
}

test('https: /key over verified TLS (extra root), then Noise over a TLS upgrade', async () => {
  const c = mk([cert]);
  try {
    const r = await c.register({ NodeKey: PrivateKey.generate('node', systemRandom).public.toString(), Hostinfo: { Hostname: 'tls' } });
    assert.equal(r.MachineAuthorized, true);
    assert.equal(fake.upgrades, 1);
  } finally {
    c.close();
  }
});

test('https: an untrusted certificate fails the /key fetch', async () => {
  const c = mk();
  try {
    await assert.rejects(c.serverKey(), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_CONTROL_UNREACHABLE' && /certificate/i.test(e.message));
  } finally {
    c.close();
  }
});
