import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certPin } from '../../lab/derper.js';
import { renderDerpMap, renderHeadscaleConfig } from '../../lab/headscale-config.js';
import { authIdFromUrl } from '../../lab/headscale.js';
import { redactArgv, redactText } from '../../lab/redact.js';
import { parseVersionsEnv } from '../../lab/versions.js';
import { wrapArgv } from '../../lab/exec.js';

// A self-signed P-256 certificate for IP 198.51.100.30, made with openssl; its pin computed
// independently: `openssl x509 -in c.pem -outform DER | sha256sum`.
const PEM = `-----BEGIN CERTIFICATE-----
MIIBlzCCATygAwIBAgIUKwtAig0+vO9D9yeGTbLqHcwNab8wCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNMTk4LjUxLjEwMC4zMDAeFw0yNjExMjMxOTE3NTZaFw0zNjEx
MjAxOTE3NTZaMBgxFjAUBgNVBAMMDTE5OC41MS4xMDAuMzAwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAR8aQIgIPU6FkgC9OQsOihboZ6YR0r8nS9qG7VxDSQKb7Rw
KigBg/BYnfhSRRPSMo3j2cAoPfjoAETepoDbUc0Go2QwYjAdBgNVHQ4EFgQU1PUq
UWMXIbGWEj5o6zcW1nppAAkwHwYDVR0jBBgwFoAU1PUqUWMXIbGWEj5o6zcW1npp
AAkwDwYDVR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwTGM2QeMAoGCCqGSM49BAMC
A0kAMEYCIQDU69j0hKAQB/hcQ9lv6GRS+VKddITzHn/vrHrh/m5gvwIhANGqzS+c
rdXXcyrVvqEaI+VkZZRUCdr58GVlhCCqMaNw
-----END CERTIFICATE-----
`;

test('DERP cert pin is sha256-raw of the DER certificate', () => {
  assert.equal(certPin(PEM), 'sha256-raw:edbf70164f1a9ffcaf5845be96bc763c1471804d3541daa473a66ea41ee25f59');
});

test('DERP map YAML uses integer region keys and lower-cased tailcfg field names', () => {
  const y = renderDerpMap([
    { regionId: 900, regionCode: 'lab1', regionName: 'Lab DERP lab1', ip: '198.51.100.30', derpPort: 443, stunPort: 3478, certName: 'sha256-raw:ab' },
  ]);
  assert.match(y, /^regions:\n  900:\n    regionid: 900\n/);
  assert.match(y, /\n        certname: "sha256-raw:ab"\n/);
  assert.match(y, /\n        ipv6: "none"\n/);
  assert.match(y, /\n        hostname: "198\.51\.100\.30"\n/);
});

test('headscale config is offline-safe: no DERP URLs, our map path, no update checks, sequential IPs', () => {
  const c = renderHeadscaleConfig({ dir: '/tmp/mtl/ab12/hs', listenIp: '198.51.100.10', port: 8080, derpMapPath: '/tmp/mtl/ab12/hs/derp.yaml' });
  assert.match(c, /^server_url: "http:\/\/198\.51\.100\.10:8080"$/m);
  assert.match(c, /^ {2}urls: \[\]$/m);
  assert.match(c, /^ {4}- "\/tmp\/mtl\/ab12\/hs\/derp\.yaml"$/m);
  assert.match(c, /^disable_check_updates: true$/m);
  assert.match(c, /^ {2}allocation: sequential$/m);
  assert.match(c, /^unix_socket: "\/tmp\/mtl\/ab12\/hs\/headscale\.sock"$/m);
  // > 65s or headscale refuses the config (hs: hscontrol/types/config.go)
  assert.match(c, /inactivity_timeout: 70s/);
});

test('headscale config for a loopback run: listeners can be turned off or moved; a DERP region may have no cert pin', () => {
  const c = renderHeadscaleConfig({ dir: '/tmp/mt-hs-x', listenIp: '127.0.0.1', port: 41000, derpMapPath: '/tmp/mt-hs-x/derp.yaml', metricsListenAddr: '', grpcListenAddr: '' });
  assert.match(c, /^metrics_listen_addr: ""$/m);
  assert.match(c, /^grpc_listen_addr: ""$/m);
  assert.match(c, /^listen_addr: "127\.0\.0\.1:41000"$/m);
  const lab = renderHeadscaleConfig({ dir: '/d', listenIp: '198.51.100.10', port: 8080, derpMapPath: '/d/derp.yaml', metricsListenAddr: '127.0.0.1:9555' });
  assert.match(lab, /^metrics_listen_addr: "127\.0\.0\.1:9555"$/m);
  assert.match(lab, /^grpc_listen_addr: "127\.0\.0\.1:50443"$/m);
  const y = renderDerpMap([{ regionId: 900, regionCode: 'loop', regionName: 'Loopback', ip: '127.0.0.1', derpPort: 1, stunPort: -1 }]);
  assert.match(y, /\n        stunport: -1\n        derpport: 1\n$/);
  assert.doesNotMatch(y, /certname/);
});

test('versions.env: literal pins and ${VAR:-default} with an environment override', () => {
  const text = '# c\nTS_VER=v1.98.10\nHS_VER=v0.29.2\nLAB_CACHE=${LAB_CACHE:-/var/cache/meshtray-lab}\n';
  assert.deepEqual(parseVersionsEnv(text, {}), { tsVer: 'v1.98.10', hsVer: 'v0.29.2', labCache: '/var/cache/meshtray-lab' });
  assert.equal(parseVersionsEnv(text, { LAB_CACHE: '/srv/c' }).labCache, '/srv/c');
  assert.throws(() => parseVersionsEnv('TS_VER=v1\n'), /HS_VER/);
  assert.throws(() => parseVersionsEnv('export TS_VER=v1\n'), /cannot parse/);
});

test('pre-auth keys never appear in printed command lines', () => {
  assert.equal(redactArgv(['tailscale', 'up', '--auth-key=hskey-auth-SECRET']), 'tailscale up --auth-key=<redacted>');
  assert.equal(redactArgv(['tailscale', 'up', '--authkey', 'SECRET', '--hostname=a']), 'tailscale up --authkey <redacted> --hostname=a');
  assert.doesNotMatch(redactText('failed: key hskey-auth-abc_DEF-123 expired'), /abc_DEF/);
  assert.doesNotMatch(redactText('tskey-auth-kXYZ'), /kXYZ/);
});

test('commands in a namespace get ip netns exec and, for daemons, a clean environment', () => {
  assert.deepEqual(wrapArgv(['tailscaled', '--port=41641'], { ns: 'mtab12-a1', cleanEnv: true, env: { TS_LOGS_DIR: '/x' } }), [
    'ip', 'netns', 'exec', 'mtab12-a1', 'env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TS_LOGS_DIR=/x', 'tailscaled', '--port=41641',
  ]);
  assert.deepEqual(wrapArgv(['ip', 'a']), ['ip', 'a']);
});

test('AUTH_ID is the last path segment of a Headscale AuthURL', () => {
  assert.equal(authIdFromUrl('http://198.51.100.10:8080/register/AbC-123_x'), 'AbC-123_x');
  assert.throws(() => authIdFromUrl('http://198.51.100.10:8080/'));
});
