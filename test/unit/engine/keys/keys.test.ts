import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateKey, PublicKey } from '../../../../main/engine/keys/keys.js';

const fixed = (b: number) => ({ bytes: (n: number) => new Uint8Array(n).fill(b), float: () => 0 });

test('RFC 7748 test vector: public key and shared secret', () => {
  // RFC 7748 §6.1 Alice and Bob.
  const a = PrivateKey.fromRaw('node', Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex'));
  const b = PrivateKey.fromRaw('node', Buffer.from('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb', 'hex'));
  assert.equal(a.public.toString(), 'nodekey:8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.equal(Buffer.from(a.sharedSecret(b.public)).toString('hex'), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
});

test('text forms round-trip and reject wrong prefixes and lengths', () => {
  const k = PrivateKey.generate('machine', fixed(7));
  const back = PrivateKey.parse('machine', k.toSecretText());
  assert.ok(back.public.equals(k.public));
  const pub = PublicKey.parse('machine', k.public.toString().toUpperCase().replace('MKEY:', 'mkey:'));
  assert.ok(pub.equals(k.public));
  assert.throws(() => PublicKey.parse('node', k.public.toString()), /must start with "nodekey:"/);
  assert.throws(() => PublicKey.parse('machine', 'mkey:abcd'), /64 hex digits/);
  assert.equal(PublicKey.zero('node').toString(), 'nodekey:' + '0'.repeat(64));
});

test('generated keys are clamped and never print their secret', () => {
  const k = PrivateKey.generate('node', fixed(0xff));
  const raw = k.rawBytes();
  assert.equal(raw[0]! & 7, 0);
  assert.equal(raw[31]! & 0x80, 0);
  assert.equal(raw[31]! & 0x40, 0x40);
  assert.ok(!String(k).includes('ff'));
  assert.ok(!JSON.stringify({ k }).includes(Buffer.from(raw).toString('hex')));
});

test('a low-order peer key is refused', () => {
  const k = PrivateKey.generate('disco', fixed(3));
  assert.throws(() => k.sharedSecret(new Uint8Array(32)), /all-zero|invalid|zero/i);
});
