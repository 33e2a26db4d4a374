// Noise IK initiator against our responder: fixed keys and ephemerals give fixed bytes, both ends
// agree on the transport keys, and every tampering is caught with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateKey } from '../../../../main/engine/keys/keys.js';
import { ClientHandshake, INITIATION_LEN, RESPONSE_LEN, errorMessage, prologue, respondToInitiation } from '../../../../main/engine/control/noise/handshake.js';
import { RecordReader, sealRecords } from '../../../../main/engine/control/noise/frames.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { scriptedRandom } from './helpers.js';

const fixed = (b: number) => new Uint8Array(32).fill(b);
const machine = PrivateKey.fromRaw('machine', fixed(1));
const server = PrivateKey.fromRaw('machine', fixed(2));
const isProtocol = (re: RegExp) => (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_CONTROL_PROTOCOL' && re.test(e.message);

function run(version = 142) {
  const hs = ClientHandshake.start(machine, server.public, version, scriptedRandom(fixed(3)));
  const srv = respondToInitiation(server, hs.initiation, scriptedRandom(fixed(4)));
  return { hs, srv };
}

test('prologue and initiation header carry the same decimal/BE16 version', () => {
  assert.equal(new TextDecoder().decode(prologue(142)), 'Tailscale Control Protocol v142');
  const { hs } = run(142);
  assert.equal(hs.initiation.length, INITIATION_LEN);
  assert.deepEqual([...hs.initiation.subarray(0, 5)], [0, 142, 1, 0, 96]);
});

test('fixed keys and ephemerals give the same bytes every time, and both sides agree', () => {
  const a = run();
  const b = run();
  assert.deepEqual(a.hs.initiation, b.hs.initiation);
  assert.deepEqual(a.srv.response, b.srv.response);
  assert.equal(a.srv.response.length, RESPONSE_LEN);
  assert.deepEqual([...a.srv.response.subarray(0, 3)], [2, 0, 48]);
  assert.equal(a.srv.clientMachineKey.toString(), machine.public.toString());
  assert.equal(a.srv.clientVersion, 142);
  const keys = a.hs.finish(a.srv.response);
  assert.deepEqual(keys.handshakeHash, a.srv.handshakeHash);
  // client → server and server → client, several records each
  const msg = new Uint8Array(9000).map((_, i) => i);
  assert.deepEqual(Buffer.concat(new RecordReader(a.srv.rx).feed(Buffer.concat(sealRecords(keys.tx, msg)))), Buffer.from(msg));
  assert.deepEqual(Buffer.concat(new RecordReader(keys.rx).feed(Buffer.concat(sealRecords(a.srv.tx, msg)))), Buffer.from(msg));
});

test('a server with another key cannot open the initiation', () => {
  const { hs } = run();
  const other = PrivateKey.fromRaw('machine', fixed(9));
  assert.throws(() => respondToInitiation(other, hs.initiation, scriptedRandom(fixed(4))), isProtocol(/cannot decrypt the client machine key/));
});

test('a version in the header that differs from the prologue breaks the handshake', () => {
  const { hs } = run(142);
  const tampered = Uint8Array.from(hs.initiation);
  tampered[1] = 143;
  assert.throws(() => respondToInitiation(server, tampered, scriptedRandom(fixed(4))), isProtocol(/cannot decrypt/));
});

test('malformed initiations are refused', () => {
  const { hs } = run();
  assert.throws(() => respondToInitiation(server, hs.initiation.subarray(0, 100), scriptedRandom(fixed(4))), isProtocol(/size/));
  const t1 = Uint8Array.from(hs.initiation);
  t1[2] = 2;
  assert.throws(() => respondToInitiation(server, t1, scriptedRandom(fixed(4))), isProtocol(/message type/));
  const t2 = Uint8Array.from(hs.initiation);
  t2[4] = 95;
  assert.throws(() => respondToInitiation(server, t2, scriptedRandom(fixed(4))), isProtocol(/initiation length/));
  const t3 = Uint8Array.from(hs.initiation);
  t3[100]! ^= 0x80;
  assert.throws(() => respondToInitiation(server, t3, scriptedRandom(fixed(4))), isProtocol(/tag failed/));
  const t4 = Uint8Array.from(hs.initiation);
  t4.fill(0, 5, 37); // an all-zero (low-order) ephemeral
  assert.throws(() => respondToInitiation(server, t4, scriptedRandom(fixed(4))), isProtocol(/low-order/));
});

test('the client rejects a tampered or foreign response, and reports type-3 errors', () => {
  const { hs, srv } = run();
  const bad = Uint8Array.from(srv.response);
  bad[40]! ^= 1;
  assert.throws(() => hs.finish(bad), isProtocol(/failed to authenticate/));
  assert.throws(() => run().hs.finish(srv.response.subarray(0, 50)), isProtocol(/must be 51 bytes/));
  assert.deepEqual(ClientHandshake.parseHeader(errorMessage('nope')), { isError: true, length: 4 });
  assert.throws(() => ClientHandshake.parseHeader(Uint8Array.of(2, 0, 47)), isProtocol(/wrong handshake response length/));
  assert.throws(() => ClientHandshake.parseHeader(Uint8Array.of(4, 0, 48)), isProtocol(/unexpected handshake response type 4/));
  // A response produced for a different initiation does not authenticate.
  const other = ClientHandshake.start(machine, server.public, 142, scriptedRandom(fixed(5)));
  assert.throws(() => other.finish(srv.response), isProtocol(/failed to authenticate/));
});
