// The upstream resolver used by bench:dns on both sides (argv: ip port): answers every A query
// at once with 203.0.113.10, so forwarded-name figures measure the resolver under test, not this.
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

const [ip, port] = process.argv.slice(2);
const s = createSocket(ip!.includes(':') ? 'udp6' : 'udp4');
s.on('message', (m, ri) => {
  let q: dnsPacket.DecodedPacket;
  try {
    q = dnsPacket.decode(m);
  } catch {
    return;
  }
  const qq = q.questions?.[0];
  if (!qq || q.type !== 'query') return;
  const answers: dnsPacket.Answer[] = qq.type === 'A' ? [{ type: 'A', name: qq.name, ttl: 60, data: '203.0.113.10' }] : [];
  s.send(dnsPacket.encode({ type: 'response', id: q.id ?? 0, flags: dnsPacket.RECURSION_AVAILABLE, questions: q.questions!, answers }), ri.port, ri.address);
});
s.bind(Number(port ?? 53), ip, () => process.stdout.write('ready\n'));
