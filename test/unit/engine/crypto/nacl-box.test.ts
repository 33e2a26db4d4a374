import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateKey, PublicKey } from '../../../../main/engine/keys/keys.js';
import { SharedBox } from '../../../../main/engine/crypto/nacl-box.js';
import { golden, hex } from '../disco/golden.js';

const server = PrivateKey.fromRaw('node', hex(golden.serverPriv));
const nodeA = PrivateKey.fromRaw('node', hex(golden.nodeAPriv));

test('opens the DERP ClientInfo box Tailscale sealed (NodePrivate.SealTo)', () => {
  const plain = SharedBox.between(server, PublicKey.fromRaw('node', hex(golden.nodeAPub))).open(hex(golden.derpClientInfoSealed));
  assert.equal(new TextDecoder().decode(plain), '{"version":2,"CanAckPings":true}');
});

test('opens the ServerInfo box a server sealed to us', () => {
  const plain = SharedBox.between(nodeA, PublicKey.fromRaw('node', hex(golden.serverPub))).open(hex(golden.derpServerInfoSealed));
  assert.equal(new TextDecoder().decode(plain), '{"version":2}');
});

test('both directions agree and a wrong key or tampering fails', () => {
  const ab = SharedBox.between(nodeA, server.public);
  const ba = SharedBox.between(server, nodeA.public);
  const sealed = ab.sealWithNonce(new Uint8Array([1, 2, 3]), new Uint8Array(24).fill(9));
  assert.equal(sealed.length, 24 + 16 + 3);
  assert.deepEqual(ba.open(sealed), new Uint8Array([1, 2, 3]));
  const other = SharedBox.between(PrivateKey.fromRaw('node', new Uint8Array(32).fill(3)), server.public);
  assert.equal(other.open(sealed), undefined);
  sealed[30]! ^= 0x80;
  assert.equal(ba.open(sealed), undefined);
  assert.equal(ba.open(new Uint8Array(39)), undefined);
});
