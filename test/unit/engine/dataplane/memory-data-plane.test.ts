import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PublicKey } from '../../../../main/engine/keys/keys.js';
import { MemoryDataPlane, validEndpoint, validPrefix } from '../../../../main/engine/dataplane/memory-data-plane.js';

const key = (b: number): PublicKey<'node'> => PublicKey.fromRaw('node', new Uint8Array(32).fill(b));

describe('MemoryDataPlane (engine test double)', () => {
  it('rejects the prefixes and addresses the native addon rejects', () => {
    for (const ok of ['100.64.0.1/32', '100.64.0.1', '0.0.0.0/0', 'fd7a:115c:a1e0::1/128', '::/0']) assert.ok(validPrefix(ok), ok);
    for (const bad of ['100.64.0.1/33', 'fd7a::1/129', 'nonsense', '1.2.3.4/8/9', '1.2.3.4/x']) assert.ok(!validPrefix(bad), bad);
    for (const ok of ['10.0.0.1:41641', '[fd00::1]:1']) assert.ok(validEndpoint(ok), ok);
    for (const bad of ['10.0.0.1', 'fd00::1:5', '[10.0.0.1]:5', 'host:80', '10.0.0.1:70000']) assert.ok(!validEndpoint(bad), bad);
    const dp = new MemoryDataPlane();
    assert.throws(() => dp.setPeers([{ publicKey: key(1), allowedIps: ['1.2.3.4/40'], endpoint: null, useDerp: true }]), /invalid IP prefix/);
    assert.throws(() => dp.sendUdp('nowhere', new Uint8Array(1)), (e: Error & { code?: string }) => e.code === 'ERR_BAD_REQUEST');
  });

  it('counts what crosses into JS and what leaves over DERP', () => {
    const dp = new MemoryDataPlane();
    const disco: string[] = [], derp: string[] = [];
    dp.onDisco((src) => disco.push(src));
    dp.onDerpSend((dst) => derp.push(dst.toString()));
    dp.setPeers([{ publicKey: key(2), allowedIps: ['100.64.0.2/32'], endpoint: null, useDerp: true }]);
    dp.receiveDisco('1.2.3.4:5', new Uint8Array(80));
    dp.receiveStun('1.2.3.4:3478', new Uint8Array(40)); // no STUN handler registered
    dp.emitDerpSend(key(2), new Uint8Array(100));
    dp.emitDerpSend(key(3), new Uint8Array(100)); // not a DERP peer
    dp.injectFromDerp(key(9), new Uint8Array(32));
    const c = dp.counters();
    assert.deepEqual(disco, ['1.2.3.4:5']);
    assert.deepEqual(derp, [key(2).toString()]);
    assert.deepEqual(c.toJs, { disco: 1, stun: 0, derpSend: 1, peerAddr: 0, intercept: 0, total: 2 });
    assert.equal(c.derp.txBytes, 100);
    assert.equal(c.drops.noHandler, 1);
    assert.equal(c.drops.noPath, 1);
    assert.equal(c.drops.unknownPeer, 1);
    assert.throws(() => dp.writeToTun(new Uint8Array([0x45, 0])), /not an IPv4\/IPv6 packet/);
    dp.close();
    assert.throws(() => dp.sendUdp('1.2.3.4:5', new Uint8Array(1)), /closed/);
  });
});
