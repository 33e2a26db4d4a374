// `meshtray dns status` over a real LocalAPI socket to a fake engine: tailscale's sections and lines
// (cmd/tailscale/cli/dns-status.go formatDNSStatusText), Meshtray's own section, --all, --json, and
// the one line an engine without DNS management gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiResponse, DNSStatus } from '../../../common/contract/api.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { formatDNSStatus } from '../../../main/cli/dns-status.js';
import { cliAgainst } from './cli-harness.js';
import { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';

const reverse = Array.from({ length: 64 }, (_, i) => `${64 + i}.100.in-addr.arpa.`);

const RUNNING: DNSStatus = {
  TailscaleDNS: true,
  CurrentTailnet: { MagicDNSEnabled: true, MagicDNSSuffix: 'tailnet.test', SelfDNSName: 'm1.tailnet.test.' },
  SplitDNSRoutes: { 'corp.example': [{ Addr: '10.20.0.53' }], 'a.example': [{ Addr: 'https://dns.example/q', BootstrapResolution: ['192.0.2.9'] }] },
  FallbackResolvers: [{ Addr: '9.9.9.9' }],
  SearchDomains: ['tailnet.test'],
  ExtraRecords: [{ Name: 'svc.tailnet.test', Type: 'A', Value: '100.64.0.50' }],
  SystemDNS: { Nameservers: ['10.0.0.1'], SearchDomains: [], MatchDomains: [] },
  Meshtray: {
    OSResolverInstalled: true,
    OSResolverMode: 'direct',
    OSResolver: { Nameservers: ['100.100.100.100'], SearchDomains: ['tailnet.test'], MatchDomains: [] },
    Routes: { '.': [{ Addr: '10.0.0.1' }], 'corp.example.': [{ Addr: '10.20.0.53' }] },
    LocalDomains: ['0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa.', ...reverse, 'tailnet.test.'],
  },
};

class DNSBackend extends FakeLocalApiBackend {
  answer: DNSStatus | MeshtrayError = RUNNING;
  async dnsStatus(): Promise<ApiResponse<'dnsStatus'>> {
    this.calls.push({ name: 'dnsStatus', req: {} });
    if (this.answer instanceof MeshtrayError) throw this.answer;
    return this.answer;
  }
}

async function setup(t: import('node:test').TestContext, backend: FakeLocalApiBackend = new DNSBackend()) {
  return { cli: await cliAgainst(t, backend) };
}

/** The lines of one `=== title ===` section (up to the next one). */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const i = lines.indexOf(`=== ${title} ===`);
  assert.ok(i >= 0, `section ${title} in:\n${text}`);
  const end = lines.findIndex((l, j) => j > i && l.startsWith('=== '));
  return lines.slice(i + 1, end < 0 ? undefined : end).filter((l) => l !== '');
}

test('dns status: the tailnet suffix, split routes, quad-100 as the OS resolver, the system resolver', async (t) => {
  const { cli } = await setup(t);
  const r = await cli(['dns', 'status']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  assert.deepEqual(section(r.out, "'Use Tailscale DNS' status"), [
    'Tailscale DNS: enabled.',
    'Meshtray is configured to handle DNS queries on this device.',
    "Run 'meshtray set --accept-dns=false' to revert to your system default DNS resolver.",
  ]);
  assert.deepEqual(section(r.out, 'MagicDNS configuration'), [
    'This is the DNS configuration provided by the coordination server to this device.',
    'MagicDNS: enabled tailnet-wide (suffix = tailnet.test)',
    'Other devices in your tailnet can reach this device at m1.tailnet.test.',
    'Resolvers (in preference order):',
    "  (no resolvers configured, system default will be used: see 'System DNS configuration' below)",
    'Split DNS Routes:',
    // sorted by suffix, padded to 30 as tailscale's "%-30s"
    '  - a.example                      -> https://dns.example/q (bootstrap: [192.0.2.9])',
    '  - corp.example                   -> 10.20.0.53',
    'Search Domains:',
    '  - tailnet.test',
  ]);
  assert.deepEqual(section(r.out, 'Meshtray on this device'), [
    'OS resolver: set by Meshtray (/etc/resolv.conf)',
    'Nameservers:',
    '  - 100.100.100.100',
    'Search domains:',
    '  - tailnet.test',
    'MagicDNS (100.100.100.100) forwards:',
    '  - corp.example.                  -> 10.20.0.53',
    '  - (everything else)              -> 10.0.0.1',
    'MagicDNS answers itself (never forwarded):',
    '  - tailnet.test.',
    '  (and 65 reverse DNS zones; --all lists them)',
  ]);
  const sys = section(r.out, 'System DNS configuration');
  assert.deepEqual(sys.filter((l) => l.startsWith('  ') || l.endsWith(':')), ['Nameservers:', '  - 10.0.0.1', 'Search domains:', '  (no search domains found)']);
  // Fallback resolvers and extra records only with --all.
  assert.doesNotMatch(r.out, /Fallback Resolvers|Additional DNS Records|9\.9\.9\.9/);
});

test('dns status --all adds fallback resolvers, extra records, filtered set, match domains, every reverse zone; --all=false does not', async (t) => {
  const { cli } = await setup(t);
  const all = await cli(['dns', 'status', '--all']);
  assert.equal(all.code, 0, all.err);
  const magic = section(all.out, 'MagicDNS configuration');
  assert.deepEqual(magic.slice(magic.indexOf('Fallback Resolvers:'), magic.indexOf('Fallback Resolvers:') + 2), ['Fallback Resolvers:', '  0: 9.9.9.9']);
  assert.ok(magic.includes(`  - [A] ${'svc.tailnet.test'.padEnd(50)} -> 100.64.0.50`), magic.join('\n'));
  assert.ok(magic.includes('  (no suffixes are filtered)'));
  assert.ok(section(all.out, 'Meshtray on this device').includes('  - 127.100.in-addr.arpa.'));
  assert.ok(section(all.out, 'System DNS configuration').includes('  (no match domains found)'));
  const notAll = await cli(['dns', 'status', '--all=false']);
  assert.equal(notAll.code, 0, notAll.err);
  assert.doesNotMatch(notAll.out, /Fallback Resolvers/);
});

test('dns status --json: tailscale dns status --json field names, plus Meshtray', async (t) => {
  const { cli } = await setup(t);
  const r = await cli(['dns', 'status', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as DNSStatus;
  assert.deepEqual(j, RUNNING);
});

test('--accept-dns=false: "Tailscale DNS: disabled." and the OS resolver not changed, with the reason', () => {
  const off: DNSStatus = {
    ...RUNNING,
    TailscaleDNS: false,
    Meshtray: { OSResolverInstalled: false, OSResolverMode: 'direct', OSResolverReason: '--accept-dns is off: the OS resolver is left as it was', Routes: {}, LocalDomains: [] },
  };
  const text = formatDNSStatus(off, false);
  assert.deepEqual(section(text, "'Use Tailscale DNS' status"), [
    'Tailscale DNS: disabled.',
    "(Run 'meshtray set --accept-dns=true' to start sending DNS queries to the Tailscale DNS resolver)",
  ]);
  assert.deepEqual(section(text, 'Meshtray on this device'), [
    'OS resolver: not changed by Meshtray (--accept-dns is off: the OS resolver is left as it was)',
    'MagicDNS (100.100.100.100) forwards:',
    '  (nothing: names outside the tailnet get SERVFAIL from 100.100.100.100)',
    'MagicDNS answers itself (never forwarded):',
    "  (no whole suffix; only the tailnet's own names)",
  ]);
});

test('logged out: tailscale\'s "no tailnet information" and nothing after it; an unreadable system config is said', () => {
  const out = formatDNSStatus({ TailscaleDNS: true }, false);
  assert.match(out, /No tailnet information available; make sure you're logged in to a tailnet\.\n$/);
  assert.doesNotMatch(out, /System DNS configuration|Meshtray on this device/);
  const notRunning = formatDNSStatus({ ...RUNNING, Meshtray: undefined, SystemDNS: undefined, SystemDNSError: 'helper not reachable' } as DNSStatus, false);
  assert.deepEqual(section(notRunning, 'Meshtray on this device'), ["(nothing configured: the node is not running; run 'meshtray up')"]);
  assert.ok(section(notRunning, 'System DNS configuration').includes('  (failed to read system DNS configuration: helper not reachable)'));
});

test('an engine without DNS management (userspace networking): its one line, exit 1', async (t) => {
  const b = new DNSBackend();
  b.answer = new MeshtrayError('ERR_NOT_FOUND', 'this engine does not manage DNS on this host (userspace networking, or not root)');
  const { cli } = await setup(t, b);
  const r = await cli(['dns', 'status']);
  assert.deepEqual([r.code, r.out, r.err], [1, '', 'this engine does not manage DNS on this host (userspace networking, or not root)\n']);
  // An older engine that lacks the call altogether: the LocalAPI's ERR_NOT_FOUND, one line too.
  const { cli: old } = await setup(t, new FakeLocalApiBackend());
  const o = await old(['dns', 'status']);
  assert.equal(o.code, 1);
  assert.equal(o.err, 'this engine does not support dnsStatus\n');
});
