import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildBindingRequest, buildBindingResponse, parseBindingRequest, parseBindingResponse, isStun, crc32, StunError,
} from '../../../../main/engine/stun/stun.js';
import { golden, hex, toHex } from '../disco/golden.js';

const txid = hex(golden.stunTxID);

test('binding request is byte-identical to tailscale stun.Request', () => {
  const req = buildBindingRequest(txid);
  assert.equal(req.length, 40);
  assert.equal(toHex(req), golden.stunRequest);
  assert.deepEqual(parseBindingRequest(req), txid);
});

test('crc32 matches the IEEE check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('parses tailscale stun.Response for IPv4 and IPv6', () => {
  const r4 = parseBindingResponse(hex(golden.stunResponseV4));
  assert.deepEqual(r4.txid, txid);
  assert.deepEqual(r4.addr, { ip: '198.51.100.101', port: 41641 });
  const r6 = parseBindingResponse(hex(golden.stunResponseV6));
  assert.deepEqual(r6.addr, { ip: '2001:db8::5', port: 12345 });
});

test('our response encoder equals tailscale stun.Response', () => {
  assert.equal(toHex(buildBindingResponse(txid, { ip: '198.51.100.101', port: 41641 })), golden.stunResponseV4);
  assert.equal(toHex(buildBindingResponse(txid, { ip: '2001:db8::5', port: 12345 })), golden.stunResponseV6);
});

test('MAPPED-ADDRESS fallback, trailing bytes ignored, 0x8020 accepted', () => {
  const b = new Uint8Array(20 + 12 + 3);
  b.set([0x01, 0x01, 0, 12, 0x21, 0x12, 0xa4, 0x42], 0);
  b.set(txid, 8);
  b.set([0x00, 0x01, 0, 8, 0, 1, 0x1f, 0x90, 10, 0, 0, 1], 20);
  assert.deepEqual(parseBindingResponse(b).addr, { ip: '10.0.0.1', port: 8080 });
  const alt = Uint8Array.from(hex(golden.stunResponseV4));
  alt[20] = 0x80;
  assert.deepEqual(parseBindingResponse(alt).addr, { ip: '198.51.100.101', port: 41641 });
});

test('bad input gives typed errors', () => {
  const reason = (f: () => unknown): string => {
    try { f(); return 'none'; } catch (e) { assert.ok(e instanceof StunError, String(e)); return e.reason; }
  };
  assert.equal(reason(() => parseBindingResponse(new Uint8Array(19))), 'not-stun');
  assert.equal(reason(() => parseBindingResponse(buildBindingRequest(txid))), 'not-success-response');
  const resp = hex(golden.stunResponseV4);
  const long = Uint8Array.from(resp); long[3] = 200;
  assert.equal(reason(() => parseBindingResponse(long)), 'malformed-attrs');
  const badFam = Uint8Array.from(resp); badFam[25] = 9;
  assert.equal(reason(() => parseBindingResponse(badFam)), 'malformed-attrs');
  const noAttr = Uint8Array.from(resp.subarray(0, 20)); noAttr[3] = 0;
  assert.equal(reason(() => parseBindingResponse(noAttr)), 'malformed-attrs');
  const badFp = buildBindingRequest(txid); badFp[39]! ^= 1;
  assert.equal(reason(() => parseBindingRequest(badFp)), 'wrong-fingerprint');
  const badSw = buildBindingRequest(txid); badSw[24] = 0x58;
  assert.equal(reason(() => parseBindingRequest(badSw)), 'wrong-software');
  assert.ok(!isStun(new Uint8Array(40)));
  assert.ok(isStun(resp));
});
