// NAT-PMP (RFC 6886) and PCP (RFC 6887) bytes, written out by hand from the RFCs' figures, and
// malformed answers rejected with a reason (never thrown).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPmpMapRequest, buildPmpPublicAddrRequest, parsePmpResponse } from '../../../main/engine/portmapper/pmp.js';
import { buildPcpAnnounceRequest, buildPcpMapRequest, ipv4Mapped, parsePcpResponse } from '../../../main/engine/portmapper/pcp.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

test('NAT-PMP requests: public address (§3.2) and UDP map (§3.3), delete with lifetime 0 (§3.4)', () => {
  assert.equal(hex(buildPmpPublicAddrRequest()), '0000');
  // vers 0 | op 1 | reserved 0000 | internal 41641 = a2a9 | suggested 0 | lifetime 7200 = 00001c20
  assert.equal(hex(buildPmpMapRequest(41641, 0, 7200)), '0001' + '0000' + 'a2a9' + '0000' + '00001c20');
  assert.equal(hex(buildPmpMapRequest(41641, 40000, 7200)), '0001' + '0000' + 'a2a9' + '9c40' + '00001c20');
  // Deleting: lifetime 0 and the suggested external port MUST be 0.
  assert.equal(hex(buildPmpMapRequest(41641, 40000, 0)), '0001' + '0000' + 'a2a9' + '0000' + '00000000');
});

test('NAT-PMP responses: public address and mapping, as miniupnpd sent them in the lab', () => {
  // 00 80 | result 0000 | epoch 0000300b | 11.0.0.2
  assert.deepEqual(parsePmpResponse(bytes('008000000000300b0b000002')), { ok: true, value: { op: 'public-addr', result: 0, epoch: 0x300b, publicIp: '11.0.0.2' } });
  // 00 81 | 0000 | epoch | internal a2a9 | external a2a9 | lifetime 1c20
  assert.deepEqual(parsePmpResponse(bytes('008100000000300ba2a9a2a900001c20')), { ok: true, value: { op: 'map-udp', result: 0, epoch: 0x300b, internalPort: 41641, externalPort: 41641, lifetimeS: 7200 } });
  // 0.0.0.0 is "no address" and never usable.
  const z = parsePmpResponse(bytes('00800000000000010000 0000'));
  assert.ok(z.ok && z.value.op === 'public-addr' && z.value.publicIp === undefined);
  // A refusal (result 2 NOT_AUTHORIZED) parses, with the code.
  const r = parsePmpResponse(bytes('008100020000000100000000 00000000'));
  assert.ok(r.ok && r.value.result === 2);
});

test('NAT-PMP: malformed answers are rejected with a reason', () => {
  assert.deepEqual(parsePmpResponse(bytes('0080')), { ok: false, reason: 'pmp-short' });
  assert.deepEqual(parsePmpResponse(bytes('018000000000300b0b000002')), { ok: false, reason: 'pmp-version' });
  assert.deepEqual(parsePmpResponse(bytes('008000000000300b0b00000200')), { ok: false, reason: 'pmp-bad-length' });
  assert.deepEqual(parsePmpResponse(bytes('008100000000300ba2a9a2a9')), { ok: false, reason: 'pmp-bad-length' });
  assert.deepEqual(parsePmpResponse(bytes('000100000000300ba2a9a2a900001c20')), { ok: false, reason: 'pmp-unknown-opcode' }, 'a request echoed back is not an answer');
});

test('PCP ANNOUNCE request (§7.1, §14.1): 24 bytes, version 2, opcode 0, client IP IPv4-mapped', () => {
  assert.equal(hex(buildPcpAnnounceRequest('10.9.0.10')),
    '02' + '00' + '0000' + '00000000' + '00000000000000000000ffff0a09000a');
});

test('PCP MAP request (§11.1): header + nonce, UDP, internal port, suggested external port and address', () => {
  const nonce = bytes('0102030405060708090a0b0c');
  const pkt = buildPcpMapRequest({ clientIp: '10.9.0.10', nonce, internalPort: 41641, suggestedExternalPort: 0, suggestedExternalIp: '0.0.0.0', lifetimeS: 7200 });
  assert.equal(hex(pkt),
    '02' + '01' + '0000' + '00001c20' + '00000000000000000000ffff0a09000a' + // common header
    '0102030405060708090a0b0c' + '11' + '000000' + 'a2a9' + '0000' + '00000000000000000000ffff00000000'); // MAP
  assert.equal(pkt.length, 60);
  assert.throws(() => buildPcpMapRequest({ clientIp: '10.9.0.10', nonce: new Uint8Array(8), internalPort: 1, suggestedExternalPort: 0, suggestedExternalIp: '0.0.0.0', lifetimeS: 1 }));
  assert.equal(hex(ipv4Mapped('11.0.0.2')), '00000000000000000000ffff0b000002');
});

test('PCP responses: ANNOUNCE as miniupnpd sent it, MAP with the nonce echoed', () => {
  assert.deepEqual(parsePcpResponse(bytes('02800000000000000000300b000000000000000000000000')), { ok: true, value: { opcode: 0, result: 0, lifetimeS: 0, epoch: 0x300b } });
  const map = parsePcpResponse(bytes('0281' + '0000' + '00001c20' + '0000300b' + '000000000000000000000000' +
    '0102030405060708090a0b0c' + '11000000' + 'a2a9' + '9c40' + '00000000000000000000ffff0b000002'));
  assert.ok(map.ok);
  assert.equal(map.value.result, 0);
  assert.equal(map.value.lifetimeS, 7200);
  assert.deepEqual({ ...map.value.map!, nonce: hex(map.value.map!.nonce) }, { nonce: '0102030405060708090a0b0c', protocol: 17, internalPort: 41641, externalPort: 40000, externalIp: '11.0.0.2' });
  // ADDRESS_MISMATCH (12): a PCP server behind another NAT.
  const mm = parsePcpResponse(bytes('0280000c000000000000300b000000000000000000000000'));
  assert.ok(mm.ok && mm.value.result === 12);
});

test('PCP: malformed answers are rejected with a reason', () => {
  assert.deepEqual(parsePcpResponse(bytes('0280')), { ok: false, reason: 'pcp-short' });
  assert.deepEqual(parsePcpResponse(bytes('03800000000000000000300b000000000000000000000000')), { ok: false, reason: 'pcp-version' });
  assert.deepEqual(parsePcpResponse(bytes('02000000000000000000300b000000000000000000000000')), { ok: false, reason: 'pcp-not-a-response' });
  assert.deepEqual(parsePcpResponse(bytes('02800000000000000000300b00000000000000000000000000')), { ok: false, reason: 'pcp-bad-length' });
  assert.deepEqual(parsePcpResponse(bytes('02810000000000000000300b000000000000000000000000')), { ok: false, reason: 'pcp-short' }, 'a MAP answer without its body');
  assert.deepEqual(parsePcpResponse(bytes('02820000000000000000300b000000000000000000000000')), { ok: false, reason: 'pcp-unknown-opcode' });
});

test('bounded fuzz: random bytes never throw out of either parser', () => {
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < 3000; i++) {
    const n = rnd() % 80;
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j++) b[j] = rnd();
    if (n > 0 && i % 3 === 0) b[0] = i % 2 ? 0 : 2; // often a plausible version byte
    assert.doesNotThrow(() => parsePmpResponse(b));
    assert.doesNotThrow(() => parsePcpResponse(b));
  }
});
