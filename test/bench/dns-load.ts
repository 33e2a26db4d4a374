// DNS load client for bench:dns, run inside a namespace: sends `count` queries for `name` to
// `server` with `concurrency` outstanding over one UDP socket, prints one JSON line with qps and
// latency percentiles. argv: server name type count concurrency
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

const [server, name, type, countText, concText] = process.argv.slice(2);
const count = Number(countText ?? 5000);
const concurrency = Number(concText ?? 16);
const sock = createSocket(server!.includes(':') ? 'udp6' : 'udp4');
const sent = new Map<number, bigint>();
const lat: number[] = [];
let nextId = 1;
let issued = 0;
let errors = 0;
let timeouts = 0;
const rcodes: Record<string, number> = {};
const TIMEOUT_NS = 2_000_000_000n;

function send(): void {
  if (issued >= count) return;
  issued++;
  const id = nextId;
  nextId = (nextId % 65535) + 1;
  sent.set(id, process.hrtime.bigint());
  sock.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: type as dnsPacket.RecordType, name: name! }] }), 53, server!);
}

const t0 = process.hrtime.bigint();
await new Promise<void>((resolve) => {
  const finishIfDone = () => {
    if (lat.length + errors + timeouts >= count) resolve();
  };
  sock.on('message', (m) => {
    const id = m.readUInt16BE(0);
    const at = sent.get(id);
    if (at === undefined) return;
    sent.delete(id);
    lat.push(Number(process.hrtime.bigint() - at) / 1e6);
    const rc = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN'][m[3]! & 15] ?? String(m[3]! & 15);
    rcodes[rc] = (rcodes[rc] ?? 0) + 1;
    if ((m[3]! & 15) !== 0) errors++;
    send();
    finishIfDone();
  });
  const sweep = setInterval(() => {
    const now = process.hrtime.bigint();
    for (const [id, at] of sent) {
      if (now - at > TIMEOUT_NS) {
        sent.delete(id);
        timeouts++;
        send();
      }
    }
    finishIfDone();
  }, 100);
  sock.bind(0, () => {
    for (let i = 0; i < concurrency; i++) send();
  });
  sock.once('close', () => clearInterval(sweep));
});
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
sock.close();
lat.sort((a, b) => a - b);
const pct = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]! : NaN);
process.stdout.write(
  JSON.stringify({ server, name, type, count, concurrency, answered: lat.length, errors, timeouts, rcodes, seconds: secs, qps: lat.length / secs, p50ms: pct(50), p99ms: pct(99), maxms: lat[lat.length - 1] ?? NaN }) + '\n',
);
process.exit(0);
