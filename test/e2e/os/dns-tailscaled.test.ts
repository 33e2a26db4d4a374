// Our MagicDNS answers against real tailscaled v1.98.10's 100.100.100.100 for the same Headscale
// netmap: for each question a user's resolver would ask (FQDN, bare name, AAAA, extra record,
// unknown name, PTR v4/v6, quad-100's own name, .onion, other types), the response code and the
// answer data must be the same. TTLs differ on purpose: v1.98.10 answers with 600 s, tailscale
// main (and we) with 5 s (net/dns/resolver/tsdns.go defaultTTL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { buildDNSPlan } from '../../../main/engine/dns/dns-config.js';
import { MagicDNSResolver } from '../../../main/engine/dns/resolver.js';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';
import { netmapOfTailscaled } from '../support/tailscaled-netmap.js';

function rev4(ip: string): string {
  return ip.split('.').reverse().join('.') + '.in-addr.arpa';
}
function rev6(ip: string): string {
  const [h, t] = ip.split('::');
  const hg = h ? h.split(':') : [];
  const tg = t ? t.split(':') : [];
  const groups = [...hg, ...new Array<string>(8 - hg.length - tg.length).fill('0'), ...tg].map((g) => g.padStart(4, '0'));
  return groups.join('').split('').reverse().join('.') + '.ip6.arpa';
}

interface Answer {
  rcode: string;
  data: string[];
}

test('MagicDNS answers match tailscaled\'s quad-100 for the same Headscale netmap', { timeout: 240_000 }, async (t) => {
  await withLab(t, { derpRegions: 1, hosts: [{ name: 'a1', nat: 'easy', upArgs: ['--accept-dns=true'] }, { name: 'b1', nat: 'easy' }] }, async (lab) => {
    const a1 = lab.peer('a1');
    const [b1v4, b1v6] = await lab.peer('b1').ip();
    assert.ok(b1v4 && b1v6);
    await waitFor('a1 answers b1.tailnet.test', async () => (await lab.exec('a1', ['dig', '+short', '@100.100.100.100', 'b1.tailnet.test'])).stdout.trim() === b1v4, { timeoutMs: 30_000, intervalMs: 300 });

    const nm = await netmapOfTailscaled(a1);
    const plan = buildDNSPlan({ self: nm.self, peers: nm.peers(), dns: nm.dnsConfig, magicDNSSuffix: nm.magicDNSSuffix, corpDNS: true, exitNodeSelected: false, base: { nameservers: ['127.0.0.1'], searchDomains: [] } });
    const ours = new MagicDNSResolver({ upstream: { query: () => Promise.reject(new Error('no upstream in this test')) }, forwardTimeoutMs: 100 });
    ours.setConfig(plan.resolver);

    const askOurs = async (name: string, type: dnsPacket.RecordType): Promise<Answer> => {
      const out = await ours.handle(dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }));
      const d = dnsPacket.decode(Buffer.from(out!)) as dnsPacket.DecodedPacket & { rcode: string };
      return { rcode: d.rcode, data: (d.answers ?? []).map((a) => String((a as { data: unknown }).data).replace(/\.$/, '')).sort() };
    };
    const askTheirs = async (name: string, type: string): Promise<Answer> => {
      const o = (await lab.exec('a1', ['dig', '+time=3', '+tries=1', '+noall', '+comments', '+answer', '@100.100.100.100', name, type])).stdout;
      const rcode = /status: (\w+)/.exec(o)?.[1] ?? 'none';
      const data = o
        .split('\n')
        .filter((l) => l && !l.startsWith(';'))
        .map((l) => l.trim().split(/\s+/).slice(4).join(' ').replace(/\.$/, ''))
        .filter(Boolean)
        .sort();
      return { rcode, data };
    };

    const questions: [string, dnsPacket.RecordType][] = [
      ['b1.tailnet.test', 'A'],
      ['B1.TAILNET.TEST', 'A'],
      // (bare names like "b1." are left out: tailscale main and we answer them when MagicDNS is on,
      // v1.98.10 forwards them; OS resolvers reach peers by short name through the search domain)
      ['b1.tailnet.test', 'AAAA'],
      ['a1.tailnet.test', 'AAAA'],
      ['svc.tailnet.test', 'A'],
      ['nosuch.tailnet.test', 'A'],
      ['b1.tailnet.test', 'TXT'],
      ['b1.tailnet.test', 'NS'],
      [rev4(b1v4), 'PTR'],
      [rev6(b1v6), 'PTR'],
      [rev4('100.100.100.100'), 'PTR'],
      [rev4('100.64.99.99'), 'PTR'],
      [rev4('100.64.0.50'), 'PTR'],
      ['magicdns.localhost-tailscale-daemon', 'A'],
      ['hidden.onion', 'A'],
    ];
    const diffs: string[] = [];
    for (const [name, type] of questions) {
      const a = await askOurs(name, type);
      const b = await askTheirs(name, type);
      if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${name} ${type}: ours ${JSON.stringify(a)} tailscaled ${JSON.stringify(b)}`);
    }
    assert.deepEqual(diffs, []);
  });
});
