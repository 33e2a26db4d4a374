import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateKey, PublicKey } from '../../../../main/engine/keys/keys.js';
import { DiscoCodec, looksLikeDisco, discoSender } from '../../../../main/engine/disco/packet.js';
import { encodeDiscoMessage, parseDiscoMessage, DiscoError, type DiscoMessage } from '../../../../main/engine/disco/messages.js';
import type { Random } from '../../../../main/engine/ports/ports.js';
import { golden, hex, toHex } from './golden.js';

const fixedRandom = (bytes: Uint8Array): Random => ({
  bytes: (n) => {
    assert.equal(n, bytes.length);
    return Uint8Array.from(bytes);
  },
  float: () => 0.5,
});

const a = PrivateKey.fromRaw('disco', hex(golden.discoAPriv));
const b = PrivateKey.fromRaw('disco', hex(golden.discoBPriv));
const nodeA = PublicKey.fromRaw('node', hex(golden.nodeAPub));
const txid = hex(golden.txid);

const ours: Record<string, DiscoMessage> = {
  ping: { type: 'ping', txid, nodeKey: nodeA, padding: 0 },
  'ping-padded': { type: 'ping', txid, nodeKey: nodeA, padding: 20 },
  'ping-nokey': { type: 'ping', txid, padding: 0 },
  'pong-v4': { type: 'pong', txid, src: { ip: '198.51.100.7', port: 41641 } },
  'pong-v6': { type: 'pong', txid, src: { ip: '2001:db8::1', port: 3478 } },
  callmemaybe: { type: 'callMeMaybe', endpoints: [{ ip: '203.0.113.9', port: 41641 }, { ip: '2001:db8::2', port: 41642 }] },
  'callmemaybe-empty': { type: 'callMeMaybe', endpoints: [] },
};

test('keys match the Go-derived public keys', () => {
  assert.equal(toHex(a.public.raw), golden.discoAPub);
  assert.equal(toHex(b.public.raw), golden.discoBPub);
});

for (const g of golden.messages) {
  const msg = ours[g.name];
  test(`disco ${g.name}: our plaintext equals Tailscale's AppendMarshal`, () => {
    assert.ok(msg, `fixture ${g.name} has a Meshtray counterpart`);
    assert.equal(toHex(encodeDiscoMessage(msg)), g.plain);
  });
  test(`disco ${g.name}: we open the packet tailscaled sealed`, () => {
    const codecB = new DiscoCodec(b, fixedRandom(new Uint8Array(24)));
    const opened = codecB.open(hex(g.theirs), (k) => k.equals(a.public));
    assert.ok(opened, JSON.stringify(codecB.counters.snapshot()));
    assert.ok(opened.sender.equals(a.public));
    assert.deepEqual(normalise(opened.msg), normalise(msg!));
  });
  test(`disco ${g.name}: our sealed packet is byte-identical to what tailscaled opens`, () => {
    const codecA = new DiscoCodec(a, fixedRandom(hex(g.oursNonce)));
    assert.equal(toHex(codecA.seal(b.public, msg!)), g.oursWant);
  });
}

function normalise(m: DiscoMessage): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v)));
}

test('ping fields a peer would see', () => {
  const m = parseDiscoMessage(hex(golden.messages.find((x) => x.name === 'ping-padded')!.plain));
  assert.equal(m.type, 'ping');
  if (m.type !== 'ping') return;
  assert.equal(m.padding, 20);
  assert.equal(m.nodeKey?.toString(), 'nodekey:' + golden.nodeAPub);
  assert.equal(toHex(m.txid), golden.txid);
});

test('malformed disco is counted, never thrown', () => {
  const codecB = new DiscoCodec(b, fixedRandom(new Uint8Array(24)));
  const theirs = hex(golden.messages[0]!.theirs);
  // not disco at all
  assert.equal(codecB.open(new Uint8Array(10)), undefined);
  assert.equal(codecB.counters.get('not-disco'), 1);
  // unknown sender
  assert.equal(codecB.open(theirs, () => false), undefined);
  assert.equal(codecB.counters.get('unknown-sender'), 1);
  // flipped ciphertext bit -> open fails
  const bad = Uint8Array.from(theirs);
  bad[bad.length - 1]! ^= 1;
  assert.equal(codecB.open(bad), undefined);
  assert.equal(codecB.counters.get('open-failed'), 1);
  // sealed for someone else (C) -> open fails at B
  const c = PrivateKey.fromRaw('disco', new Uint8Array(32).fill(7));
  const forC = new DiscoCodec(a, fixedRandom(new Uint8Array(24))).seal(c.public, ours.ping!);
  assert.equal(codecB.open(forC), undefined);
  assert.equal(codecB.counters.get('open-failed'), 2);
  // authentic box whose content is an unknown type
  const codecA = new DiscoCodec(a, fixedRandom(new Uint8Array(24)));
  const sealedUnknown = (codecA as unknown as { box(p: PublicKey<'disco'>): { sealWithNonce(p: Uint8Array, n: Uint8Array): Uint8Array } })
    .box(b.public).sealWithNonce(new Uint8Array([0x42, 0]), new Uint8Array(24));
  const pkt = new Uint8Array(38 + sealedUnknown.length);
  pkt.set(hex(golden.messages[0]!.theirs).subarray(0, 38));
  pkt.set(sealedUnknown, 38);
  assert.equal(codecB.open(pkt), undefined);
  assert.equal(codecB.counters.get('unknown-message-type'), 1);
});

test('parse leniency matches Go', () => {
  assert.throws(() => parseDiscoMessage(new Uint8Array([1])), (e) => e instanceof DiscoError && e.reason === 'short-message');
  assert.throws(() => parseDiscoMessage(new Uint8Array([1, 0, 1, 2])), (e) => e instanceof DiscoError && e.reason === 'short-message');
  assert.throws(() => parseDiscoMessage(new Uint8Array([2, 0, ...new Uint8Array(29)])), DiscoError);
  // CallMeMaybe with a ragged body or version 1 is still a CallMeMaybe, with no endpoints.
  assert.deepEqual(parseDiscoMessage(new Uint8Array([3, 0, 1, 2, 3])), { type: 'callMeMaybe', endpoints: [] });
  assert.deepEqual(parseDiscoMessage(new Uint8Array([3, 1, ...new Uint8Array(18)])), { type: 'callMeMaybe', endpoints: [] });
  // Relay messages are recognised and ignored.
  assert.deepEqual(parseDiscoMessage(new Uint8Array([7, 0])), { type: 'relay', msgType: 7 });
  // A pong with trailing bytes parses (forward compatibility).
  const pong = encodeDiscoMessage(ours['pong-v4']!);
  const longer = new Uint8Array(pong.length + 5);
  longer.set(pong);
  assert.deepEqual(parseDiscoMessage(longer), parseDiscoMessage(pong));
});

test('looksLikeDisco and discoSender', () => {
  const p = hex(golden.messages[0]!.theirs);
  assert.ok(looksLikeDisco(p));
  assert.equal(discoSender(p)?.toString(), 'discokey:' + golden.discoAPub);
  assert.ok(!looksLikeDisco(p.subarray(0, 61)));
});
