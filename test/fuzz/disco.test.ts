// Fuzz target: disco packets (outer layout + box + message body) and STUN responses. Opening
// never throws; every rejected packet bumps exactly one counter; the body parser and the STUN
// parser throw only their typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiscoCodec } from '../../main/engine/disco/packet.js';
import { DiscoError, parseDiscoMessage, encodeDiscoMessage, type DiscoMessage } from '../../main/engine/disco/messages.js';
import { PrivateKey } from '../../main/engine/keys/keys.js';
import { parseBindingResponse, buildBindingResponse, StunError } from '../../main/engine/stun/stun.js';
import { ITERATIONS, Rng, SEED } from './fuzz-util.js';

test(`disco open survives ${ITERATIONS} mutated/random packets (seed ${SEED})`, () => {
  const rng = new Rng(SEED);
  const random = { bytes: (n: number) => rng.bytes(n), float: () => rng.u32() / 2 ** 32 };
  const a = PrivateKey.fromRaw('disco', rng.bytes(32));
  const b = PrivateKey.fromRaw('disco', rng.bytes(32));
  const codecA = new DiscoCodec(a, random);
  const codecB = new DiscoCodec(b, random);
  const msgs: DiscoMessage[] = [
    { type: 'ping', txid: rng.bytes(12), padding: 0 },
    { type: 'ping', txid: rng.bytes(12), nodeKey: PrivateKey.fromRaw('node', rng.bytes(32)).public, padding: 3 },
    { type: 'pong', txid: rng.bytes(12), src: { ip: '203.0.113.1', port: 41641 } },
    { type: 'callMeMaybe', endpoints: [{ ip: '2001:db8::1', port: 1 }, { ip: '10.0.0.1', port: 2 }] },
  ];
  let opened = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const valid = codecA.seal(b.public, msgs[rng.int(msgs.length)]!);
    const input = i % 5 === 0 ? rng.bytes(rng.int(200)) : i % 5 === 1 ? valid : rng.mutate(valid);
    const before = codecB.counters.total();
    let r;
    try {
      r = codecB.open(input, (k) => k.equals(a.public) || rng.int(2) === 0);
    } catch (e) {
      throw new Error(`iteration ${i}: open threw ${String(e)} for ${Buffer.from(input).toString('hex')}`);
    }
    if (r) opened++;
    else assert.equal(codecB.counters.total(), before + 1, `iteration ${i}: drop not counted`);
  }
  assert.ok(opened >= ITERATIONS / 5, `valid packets opened: ${opened}`);
  const c = codecB.counters.snapshot();
  for (const k of ['disco_not-disco', 'disco_open-failed']) assert.ok((c[k] ?? 0) > 0, `${k} exercised: ${JSON.stringify(c)}`);
});

test(`disco body parser throws only DiscoError over ${ITERATIONS} inputs`, () => {
  const rng = new Rng(SEED ^ 0x55);
  const seeds = [
    encodeDiscoMessage({ type: 'ping', txid: rng.bytes(12), padding: 5 }),
    encodeDiscoMessage({ type: 'pong', txid: rng.bytes(12), src: { ip: '2001:db8::7', port: 9 } }),
    encodeDiscoMessage({ type: 'callMeMaybe', endpoints: [{ ip: '192.0.2.1', port: 7 }] }),
  ];
  for (let i = 0; i < ITERATIONS; i++) {
    const input = i % 3 === 0 ? rng.bytes(rng.int(80)) : rng.mutate(seeds[rng.int(seeds.length)]!);
    try {
      parseDiscoMessage(input);
    } catch (e) {
      if (!(e instanceof DiscoError)) throw new Error(`iteration ${i}: ${String(e)} for ${Buffer.from(input).toString('hex')}`);
    }
  }
});

test(`STUN response parser throws only StunError over ${ITERATIONS} inputs`, () => {
  const rng = new Rng(SEED ^ 0xaa);
  const seeds = [
    buildBindingResponse(rng.bytes(12), { ip: '198.51.100.1', port: 1 }),
    buildBindingResponse(rng.bytes(12), { ip: '2001:db8::1', port: 2 }),
  ];
  let ok = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const input = i % 3 === 0 ? rng.bytes(rng.int(80)) : rng.mutate(seeds[rng.int(seeds.length)]!);
    try {
      parseBindingResponse(input);
      ok++;
    } catch (e) {
      if (!(e instanceof StunError)) throw new Error(`iteration ${i}: ${String(e)} for ${Buffer.from(input).toString('hex')}`);
    }
  }
  assert.ok(ok > 0);
});
