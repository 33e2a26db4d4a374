import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import dnsPacket from 'dns-packet';
import { nodeUpstream } from '../../../../main/engine/dns/upstream.js';

const query = (name: string, id = 77) => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });

test('a truncated UDP answer is retried over TCP; answers from other ports or with other IDs are ignored; a silent upstream times out', async (t) => {
  const tcp = createServer((c) => {
    c.on('data', (d) => {
      const q = dnsPacket.decode(d.subarray(2));
      const r = dnsPacket.encode({ type: 'response', id: q.id ?? 0, questions: q.questions!, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 1, data: '192.0.2.77' }] });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(r.length);
      c.end(Buffer.concat([len, r]));
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  const port = (tcp.address() as { port: number }).port;
  t.after(() => tcp.close());
  const udp = createSocket('udp4');
  const stranger = createSocket('udp4');
  await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
  udp.on('message', (m, ri) => {
    const q = dnsPacket.decode(m);
    // first a spoof from another port and a wrong ID, then the real (truncated) answer
    stranger.send(dnsPacket.encode({ type: 'response', id: q.id ?? 0, questions: q.questions!, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 1, data: '6.6.6.6' }] }), ri.port, ri.address);
    udp.send(dnsPacket.encode({ type: 'response', id: ((q.id ?? 0) + 1) & 0xffff, questions: q.questions! }), ri.port, ri.address);
    udp.send(dnsPacket.encode({ type: 'response', id: q.id ?? 0, flags: dnsPacket.TRUNCATED_RESPONSE, questions: q.questions! }), ri.port, ri.address);
  });
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', () => r()));
  t.after(() => {
    udp.close();
    stranger.close();
  });
  const out = await nodeUpstream.query(query('big.example'), { ip: '127.0.0.1', port }, { tcp: false, timeoutMs: 3000 });
  assert.equal((dnsPacket.decode(Buffer.from(out)).answers![0] as { data: string }).data, '192.0.2.77');

  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  t.after(() => silent.close());
  const t0 = Date.now();
  await assert.rejects(nodeUpstream.query(query('x.example'), { ip: '127.0.0.1', port: silent.address().port }, { tcp: false, timeoutMs: 400 }), /timed out \(udp\)/);
  assert.ok(Date.now() - t0 < 1500);
});
