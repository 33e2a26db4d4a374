// Known-answer test: our Noise IK initiator and responder must produce exactly the bytes that
// tailscale.com/control/controlbase (v1.98.10) produced for the same keys and ephemeral randomness.
// See test/fixtures/control/noise-kat.json for how the vectors were made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PrivateKey, PublicKey } from '../../../../main/engine/keys/keys.js';
import { ClientHandshake, respondToInitiation } from '../../../../main/engine/control/noise/handshake.js';
import { RecordReader, sealRecords } from '../../../../main/engine/control/noise/frames.js';
import { fixturePath, hex, scriptedRandom } from './helpers.js';

interface Frame { plaintextHex: string; wireHex: string }
const kat = JSON.parse(readFileSync(fixturePath('noise-kat.json'), 'utf8')) as {
  version: number; machinePrivate: string; machinePublic: string; serverPrivate: string; serverPublic: string;
  clientEphemeralRawHex: string; serverEphemeralRawHex: string; initiationHex: string; responseHex: string;
  handshakeHashHex: string; clientToServer: Frame[]; serverToClient: Frame[];
};

const machine = PrivateKey.parse('machine', kat.machinePrivate);
const server = PrivateKey.parse('machine', kat.serverPrivate);

test('key text forms match Go', () => {
  assert.equal(machine.public.toString(), kat.machinePublic);
  assert.equal(server.public.toString(), kat.serverPublic);
});

test('initiator reproduces Go\'s 101-byte initiation and accepts Go\'s response', () => {
  const hs = ClientHandshake.start(machine, PublicKey.parse('machine', kat.serverPublic), kat.version, scriptedRandom(hex(kat.clientEphemeralRawHex)));
  assert.equal(Buffer.from(hs.initiation).toString('hex'), kat.initiationHex);
  const keys = hs.finish(hex(kat.responseHex));
  assert.equal(Buffer.from(keys.handshakeHash).toString('hex'), kat.handshakeHashHex);
  // Client records must be byte-identical to Go's (same key, same big-endian nonces).
  for (const f of kat.clientToServer) {
    const wire = Buffer.concat(sealRecords(keys.tx, hex(f.plaintextHex)));
    assert.equal(wire.toString('hex'), f.wireHex);
  }
  // And Go's server records decrypt, in order.
  const reader = new RecordReader(keys.rx);
  for (const f of kat.serverToClient) {
    assert.equal(Buffer.concat(reader.feed(hex(f.wireHex))).toString('hex'), f.plaintextHex);
  }
});

test('responder reproduces Go\'s 51-byte response and reads Go\'s client records', () => {
  const r = respondToInitiation(server, hex(kat.initiationHex), scriptedRandom(hex(kat.serverEphemeralRawHex)));
  assert.equal(Buffer.from(r.response).toString('hex'), kat.responseHex);
  assert.equal(r.clientVersion, kat.version);
  assert.equal(r.clientMachineKey.toString(), kat.machinePublic);
  const reader = new RecordReader(r.rx);
  for (const f of kat.clientToServer) {
    assert.equal(Buffer.concat(reader.feed(hex(f.wireHex))).toString('hex'), f.plaintextHex);
  }
  for (const f of kat.serverToClient) {
    assert.equal(Buffer.concat(sealRecords(r.tx, hex(f.plaintextHex))).toString('hex'), f.wireHex);
  }
});

test('a big write is split into records of at most 4096 bytes (Go split the same way)', () => {
  const big = kat.clientToServer.find((f) => f.plaintextHex.length / 2 > 4077)!;
  const wire = hex(big.wireHex);
  assert.equal(wire[0], 4);
  assert.equal((wire[1]! << 8) | wire[2]!, 4093);
  assert.equal(wire.length, 3 + 4093 + 3 + (big.plaintextHex.length / 2 - 4077) + 16);
});
