import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findAuthUrl, parseGoDuration, parsePongLine, parsePongs, parseStatus, peerByHostName, splitJsonObjects } from '../../lab/peer-output.js';

// Lines as tailscale v1.98.10 `tailscale ping` printed them in the lab (cmd/tailscale/cli/ping.go).
const PING_OUT = `pong from b1 (100.64.0.2) via DERP(lab2) in 2ms
pong from b1 (100.64.0.2) via 198.51.100.102:41641 in 1ms
`;

test('tailscale ping output: DERP pongs and direct pongs are told apart', () => {
  const pongs = parsePongs(PING_OUT);
  assert.equal(pongs.length, 2);
  assert.deepEqual(pongs[0]!.via, { kind: 'derp', region: 'lab2' });
  assert.equal(pongs[0]!.name, 'b1');
  assert.equal(pongs[0]!.ip, '100.64.0.2');
  assert.equal(pongs[0]!.latencyMs, 2);
  assert.deepEqual(pongs[1]!.via, { kind: 'direct', endpoint: '198.51.100.102:41641' });
});

test('ping lines with a peerapi port, IPv6 endpoints, peer relays and long latencies', () => {
  assert.deepEqual(parsePongLine('pong from nas (100.64.0.5, 45123) via [fd00::1]:41641 in 1.5s')?.via, { kind: 'direct', endpoint: '[fd00::1]:41641' });
  assert.equal(parsePongLine('pong from nas (100.64.0.5, 45123) via [fd00::1]:41641 in 1.5s')?.latencyMs, 1500);
  assert.deepEqual(parsePongLine('pong from x (100.64.0.9) via peer-relay(198.51.100.70:7777:vni:3) in 4ms')?.via, { kind: 'peer-relay', relay: '198.51.100.70:7777:vni:3' });
  assert.equal(parsePongLine('pong from x (100.64.0.9) via DERP(lab1) in 0s')?.latencyMs, 0);
});

test('non-pong lines are ignored, not misparsed', () => {
  assert.equal(parsePongLine('ping "100.64.0.2" timed out'), undefined);
  assert.equal(parsePongLine('direct connection not established'), undefined);
  assert.deepEqual(parsePongs('ping "100.64.0.2" timed out\n\n'), []);
});

test('Go durations', () => {
  assert.equal(parseGoDuration('12ms'), 12);
  assert.equal(parseGoDuration('1m2.5s'), 62_500);
  assert.equal(parseGoDuration('850µs'), 0.85);
  assert.throws(() => parseGoDuration('12 ms'));
});

test('AuthURL from `up --json` blocks or from the "To authenticate, visit:" text', () => {
  // up --json prints MarshalIndent'ed blocks (cmd/tailscale/cli/up.go upOutputJSON)
  const json = '{\n\t"AuthURL": "http://198.51.100.10:8080/register/AbC_123",\n\t"BackendState": "NeedsLogin"\n}\n';
  assert.equal(findAuthUrl(json, ''), 'http://198.51.100.10:8080/register/AbC_123');
  const text = '\nTo authenticate, visit:\n\n\thttp://198.51.100.10:8080/register/xyz\n\n';
  assert.equal(findAuthUrl('', text), 'http://198.51.100.10:8080/register/xyz');
  assert.equal(findAuthUrl('{"BackendState":"Running"}', 'Success.'), undefined);
});

test('concatenated JSON objects split, with braces inside strings and a partial tail', () => {
  const { values, rest } = splitJsonObjects('{"a":"}{"}\n{"b":{"c":1}}\n{"d":');
  assert.deepEqual(values, [{ a: '}{' }, { b: { c: 1 } }]);
  assert.equal(rest, '\n{"d":');
});

test('status --json: peers by HostName, null arrays normalised, unknown fields kept', () => {
  const st = parseStatus(
    JSON.stringify({
      Version: '1.98.10',
      BackendState: 'Running',
      TailscaleIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'],
      Self: { HostName: 'a1', TailscaleIPs: ['100.64.0.1'], Online: true, Extra: 1 },
      Peer: {
        'nodekey:aa': { HostName: 'b1', TailscaleIPs: ['100.64.0.2'], Online: true, CurAddr: '198.51.100.102:41641', Relay: 'lab1', PrimaryRoutes: null },
      },
    }),
  );
  assert.equal(st.BackendState, 'Running');
  const b = peerByHostName(st, 'b1')!;
  assert.equal(b.CurAddr, '198.51.100.102:41641');
  assert.deepEqual(b.PrimaryRoutes, []);
  assert.equal(peerByHostName(st, 'zz'), undefined);
  assert.equal((st.Self as Record<string, unknown>).Extra, 1);
  // before login tailscaled reports Peer: null and no Self addresses
  const empty = parseStatus('{"BackendState":"NeedsLogin","TailscaleIPs":null,"Self":{"HostName":"a1","TailscaleIPs":null},"Peer":null}');
  assert.deepEqual(empty.Peer, {});
  assert.deepEqual(empty.TailscaleIPs, []);
  assert.throws(() => parseStatus('{"Peer":{}}'), 'BackendState is required');
});
