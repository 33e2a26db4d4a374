// The daily `tailscale` verbs on a REAL meshtrayd, side by side with the REAL tailscale CLI (v1.98.10)
// on a tailscaled peer of the same Headscale (v0.29.2) tailnet: where both describe the same node, the
// two outputs must say the same thing in the same layout.
//   ip -4/-6/-1 <peer>, ip --assert    — the addresses tailscale reports for that peer
//   whois <ip[:port]>                  — the Machine/User block tailscale prints (before its Capabilities)
//   exit-node list                     — the table rows tailscale prints, before and after selecting
//   exit-node suggest                  — a name `set --exit-node=` accepts, which then carries traffic
//   status --self/--peers/--active/--header/--json, --web refused
//   dns status (--json)                — with split DNS in Headscale's config: the same MagicDNS section as
//                                        tailscale's, quad-100 in the OS resolver with --accept-dns, the
//                                        OS's own resolver, and "Tailscale DNS: disabled." without it
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DNSStatus } from '../../../common/contract/api.js';
import { peerByHostName } from '../../lab/peer-output.js';
import { waitFor } from '../../lab/proc.js';
import { withLab } from '../../lab/with-lab.js';
import { approveExitNode, EXIT_HOST } from '../support/os-scenarios.js';

/** The table rows of `exit-node list` (they start with one space), columns split on the tabwriter gaps. */
const exitRows = (out: string): string[][] => out.split('\n').filter((l) => l.startsWith(' ')).map((l) => l.trim().split(/ {2,}/));
/**
 * whois text up to tailscale's Capabilities section (the status we answer from has no peer
 * capabilities), without the AllowedIPs line: tailscale prints Node.AllowedIPs[2:], assuming the two
 * addresses come first, but Headscale sorts AllowedIPs (hscontrol/types/node.go, netip.Prefix.Compare),
 * so for an exit node tailscale shows "[::/0 fd7a:…/128]"; we print the routes beyond the addresses.
 */
const machineAndUser = (out: string): string => out.split('\nCapabilities:')[0]!.trimEnd().split('\n').filter((l) => !l.startsWith('  AllowedIPs:')).join('\n');
const allowedLine = (out: string): string | undefined => out.split('\n').find((l) => l.startsWith('  AllowedIPs:'))?.replace(/\s+/g, ' ');
/** status table lines → hostnames (second column). */
const statusNames = (out: string): string[] => out.split('\n').filter((l) => /^\d/.test(l)).map((l) => l.split(/\s+/)[1]!);
/** The lines of one `=== title ===` section of `dns status` (blank lines dropped). */
const dnsSection = (out: string, title: string): string[] => {
  const lines = out.split('\n');
  const i = lines.indexOf(`=== ${title} ===`);
  if (i < 0) return [`(no section ${title})`];
  const end = lines.findIndex((l, j) => j > i && l.startsWith('=== '));
  return lines.slice(i + 1, end < 0 ? undefined : end).filter((l) => l !== '' && !l.startsWith('[this is a preliminary'));
};
/** A split-DNS route for Headscale's config (dns.nameservers.split); the server need not exist to be configured. */
const SPLIT_SUFFIX = 'corp.example';
const SPLIT_NS = '10.20.0.53';

test('meshtray ip / whois / exit-node / status flags / dns status against the tailscale CLI on a real tailnet', { timeout: 420_000 }, async (t) => {
  await withLab(
    t,
    { name: 'cli-lab', derpRegions: 1, hosts: [{ name: 'm1', nat: 'easy', peer: 'meshtrayd' }, EXIT_HOST, { name: 't1', nat: 'easy' }] },
    async (lab) => {
      const mt = lab.peer('m1');
      const t1 = lab.peer('t1');
      const run = async (p: typeof mt, args: string[]) => {
        const r = await p.cli(args, 30_000);
        return { code: r.code, out: r.stdout, err: r.stderr };
      };
      const ok = async (p: typeof mt, args: string[]) => {
        const r = await run(p, args);
        assert.equal(r.code, 0, `${p.name}: ${args.join(' ')} → ${r.code}: ${r.err || r.out}`);
        return r.out;
      };
      await approveExitNode(lab.headscale, 'exit');
      const offersExit = (s: Awaited<ReturnType<typeof mt.status>>) => peerByHostName(s, 'exit')?.ExitNodeOption === true && !!peerByHostName(s, 't1');
      await mt.waitStatus('m1 sees exit offering an exit node, and t1', (s) => offersExit(s) && !!peerByHostName(s, 'exit')?.Online, 90_000);
      await t1.waitStatus('t1 sees exit offering an exit node, and m1', (s) => peerByHostName(s, 'exit')?.ExitNodeOption === true && !!peerByHostName(s, 'm1'), 90_000);
      const m1ips = await mt.ip();
      const m1v4 = m1ips.find((x) => !x.includes(':'))!;
      const exitv4 = (await lab.peer('exit').ip()).find((x) => !x.includes(':'))!;

      // ---- ip: what tailscale itself reports as t1's addresses ----
      for (const flag of ['-4', '-6', '-1']) {
        assert.equal(await ok(mt, ['ip', flag, 't1']), await ok(t1, ['ip', flag]), `ip ${flag} t1`);
      }
      assert.equal(await ok(mt, ['ip', '-4', 't1.tailnet.test']), await ok(t1, ['ip', '-4']));
      assert.equal((await run(mt, ['ip', `--assert=${m1v4}`])).code, 0);
      const bad = await run(mt, ['ip', `--assert=${exitv4}`]);
      assert.equal(bad.code, 1);
      assert.equal(bad.err, `assertion failed: IP "${exitv4}" not found among [${m1ips.join(' ')}]\n`);

      // ---- whois: the same Machine/User block as `tailscale whois` on t1 ----
      const tsWhoisRaw = await ok(t1, ['whois', exitv4]);
      const mtWhoisRaw = await ok(mt, ['whois', `${exitv4}:443`]);
      t.diagnostic(`tailscale whois ${exitv4}:\n${tsWhoisRaw}\nmeshtray whois ${exitv4}:443:\n${mtWhoisRaw}`);
      assert.match(allowedLine(tsWhoisRaw) ?? '', /::\/0/, 'tailscale shows an AllowedIPs line for the exit node');
      assert.equal(allowedLine(mtWhoisRaw), ' AllowedIPs: [0.0.0.0/0 ::/0]');
      assert.equal(machineAndUser(mtWhoisRaw), machineAndUser(tsWhoisRaw));
      assert.match(machineAndUser(mtWhoisRaw), /^Machine:\n {2}Name: +exit\.tailnet\.test\n {2}ID: +\S+\n {2}Addresses: +\[/);
      const m1v6 = m1ips.find((x) => x.includes(':'))!;
      assert.equal(machineAndUser(await ok(mt, ['whois', m1v6])), machineAndUser(await ok(t1, ['whois', m1v6])), 'whois of our own address');
      const nope = await run(mt, ['whois', '100.64.99.99']);
      assert.deepEqual([nope.code, nope.err], [1, 'peer not found\n']);

      // ---- exit-node list: tailscale's rows, unselected then selected ----
      const tsList = await ok(t1, ['exit-node', 'list']);
      const mtList = await ok(mt, ['exit-node', 'list']);
      t.diagnostic(`tailscale exit-node list:${tsList}\nmeshtray exit-node list:${mtList}`);
      assert.deepEqual(exitRows(mtList), exitRows(tsList));
      assert.deepEqual(exitRows(mtList), [['IP', 'HOSTNAME', 'COUNTRY', 'CITY', 'STATUS'], [exitv4, 'exit.tailnet.test', '-', '-', '-']]);
      const filtered = await run(mt, ['exit-node', 'list', '--filter=Sweden']);
      const tsFiltered = await run(t1, ['exit-node', 'list', '--filter=Sweden']);
      assert.equal(filtered.code, 1);
      assert.notEqual(tsFiltered.code, 0, 'tailscale: no location data, no match either');
      assert.equal(filtered.err, 'no exit nodes found for "Sweden"\n');

      // ---- exit-node suggest: a name `set --exit-node` takes, and traffic then goes through it ----
      const sug = await ok(mt, ['exit-node', 'suggest']);
      t.diagnostic(`meshtray exit-node suggest:\n${sug}`);
      const name = /^Suggested exit node: (\S+)\n/.exec(sug)?.[1];
      assert.equal(name, 'exit.tailnet.test.');
      await ok(mt, ['set', `--exit-node=${name}`]);
      const prefs = JSON.parse(await ok(mt, ['debug', 'prefs'])) as { ExitNodeID: string };
      assert.equal(prefs.ExitNodeID, peerByHostName(await mt.status(), 'exit')!.ID, 'the suggested name resolved to exit');
      await ok(t1, ['set', '--exit-node=exit']);
      // Traffic to the exit node makes it active on both sides; tailscale then says "selected".
      for (const host of ['m1', 't1']) {
        await waitFor(`${host} reaches exit over the tailnet`, async () => (await lab.exec(host, ['ping', '-c', '1', '-W', '2', exitv4], 10_000)).code === 0, { timeoutMs: 30_000, intervalMs: 500 });
      }
      let sel: string[][] = [];
      await waitFor('both list exit as selected', async () => {
        sel = exitRows(await ok(mt, ['exit-node', 'list']));
        const ts = exitRows(await ok(t1, ['exit-node', 'list']));
        return (JSON.stringify(sel) === JSON.stringify(ts) && sel[1]?.[4] === 'selected') || `meshtray ${JSON.stringify(sel)} tailscale ${JSON.stringify(ts)}`;
      }, { timeoutMs: 20_000, intervalMs: 500 });
      assert.deepEqual(sel[1], [exitv4, 'exit.tailnet.test', '-', '-', 'selected']);

      // ---- status flags ----
      await waitFor('t1 active on m1', async () => (await lab.exec('m1', ['ping', '-c', '1', '-W', '2', (await t1.ip())[0]!], 10_000)).code === 0, { timeoutMs: 30_000, intervalMs: 500 });
      const all = statusNames(await ok(mt, ['status']));
      assert.deepEqual(all[0], 'm1');
      assert.deepEqual([...all].sort(), ['exit', 'm1', 't1']);
      assert.deepEqual(statusNames(await ok(mt, ['status', '--self=false'])).sort(), ['exit', 't1']);
      assert.deepEqual(statusNames(await ok(mt, ['status', '--peers=false'])), ['m1']);
      assert.deepEqual(statusNames(await ok(t1, ['status', '--peers=false'])), ['t1'], 'tailscale: the same flag, the same shape');
      const active = statusNames(await ok(mt, ['status', '--active', '--self=false']));
      assert.ok(active.includes('exit') && active.includes('t1'), `active peers after traffic: ${active.join(',')}`);
      const header = (out: string) => out.split('\n').slice(0, 2).map((l) => l.trim().split(/\s+/));
      assert.deepEqual(header(await ok(mt, ['status', '--header'])), header(await ok(t1, ['status', '--header'])));
      const noPeers = JSON.parse(await ok(mt, ['status', '--json', '--peers=false'])) as { Peer: unknown; Self: { HostName: string } };
      assert.deepEqual([noPeers.Peer, noPeers.Self.HostName], [null, 'm1']);
      const web = await run(mt, ['status', '--web']);
      assert.notEqual(web.code, 0);
      assert.equal(web.out, '');
      assert.equal(web.err.split('\n').filter(Boolean).length, 1, web.err);

      // ---- usage errors: one line, non-zero ----
      for (const args of [['frob'], ['exit-node', 'list', '--bogus'], ['whois']]) {
        const r = await run(mt, args);
        assert.notEqual(r.code, 0, args.join(' '));
        assert.equal(r.err.split('\n').filter(Boolean).length, 1, `${args.join(' ')} → ${r.err}`);
      }
      await ok(mt, ['set', '--exit-node=']);
      await ok(t1, ['set', '--exit-node=']);

      // ---- dns status: Headscale restarted with a split-DNS route in its config (Headscale reads DNS
      // settings only at start: hscontrol/types/config.go dnsToTailcfgDNS; SIGHUP reloads only the policy) ----
      const hs = lab.headscale;
      const writeBase = hs.writeConfig.bind(hs);
      hs.writeConfig = () => {
        writeBase();
        const cfg = readFileSync(hs.configPath, 'utf8');
        assert.ok(cfg.includes('    split: {}'), 'the lab config has an empty split map to fill');
        writeFileSync(hs.configPath, cfg.replace('    split: {}', `    split:\n      ${SPLIT_SUFFIX}: ["${SPLIT_NS}"]`));
      };
      await hs.restart();
      const resolvPath = join('/etc/netns', lab.host('m1').ns, 'resolv.conf');
      const resolvBefore = readFileSync(resolvPath);
      let mtDNS = '';
      let tsDNS = '';
      await waitFor('meshtray and tailscale both show the split-DNS route', async () => {
        mtDNS = (await run(mt, ['dns', 'status'])).out;
        tsDNS = (await run(t1, ['dns', 'status'])).out;
        const route = new RegExp(`^  - ${SPLIT_SUFFIX.replace('.', '\\.')} +-> ${SPLIT_NS.replace(/\./g, '\\.')}$`, 'm');
        return (route.test(mtDNS) && route.test(tsDNS)) || `meshtray:\n${mtDNS}\ntailscale:\n${tsDNS}`;
      }, { timeoutMs: 120_000, intervalMs: 1000 });
      t.diagnostic(`tailscale dns status (t1):\n${tsDNS}\nmeshtray dns status (m1, --accept-dns=false):\n${mtDNS}`);
      // The coordination server's part reads the same, line for line (but for whose name it is).
      const otherDevices = (l: string) => !l.startsWith('Other devices in your tailnet can reach this device at ');
      assert.deepEqual(dnsSection(mtDNS, 'MagicDNS configuration').filter(otherDevices), dnsSection(tsDNS, 'MagicDNS configuration').filter(otherDevices));
      assert.ok(dnsSection(mtDNS, 'MagicDNS configuration').includes('MagicDNS: enabled tailnet-wide (suffix = tailnet.test)'));
      assert.ok(dnsSection(mtDNS, 'MagicDNS configuration').includes('Other devices in your tailnet can reach this device at m1.tailnet.test.'));
      // The lab's `up` has --accept-dns=false: disabled, and the OS resolver untouched.
      assert.equal(dnsSection(mtDNS, "'Use Tailscale DNS' status")[0], 'Tailscale DNS: disabled.');
      assert.equal(dnsSection(tsDNS, "'Use Tailscale DNS' status")[0], 'Tailscale DNS: disabled.', 'tailscale on t1: the same words for the same setting');
      assert.match(mtDNS, /^OS resolver: not changed by Meshtray \(--accept-dns is off/m);
      const mtJSON = JSON.parse(await ok(mt, ['dns', 'status', '--json'])) as DNSStatus;
      const tsJSON = JSON.parse(await ok(t1, ['dns', 'status', '--json'])) as DNSStatus;
      for (const k of ['SplitDNSRoutes', 'SearchDomains', 'Resolvers', 'FallbackResolvers', 'ExtraRecords'] as const) assert.deepEqual(mtJSON[k], tsJSON[k], `--json ${k}`);
      assert.deepEqual([mtJSON.CurrentTailnet?.MagicDNSEnabled, mtJSON.CurrentTailnet?.MagicDNSSuffix], [tsJSON.CurrentTailnet?.MagicDNSEnabled, tsJSON.CurrentTailnet?.MagicDNSSuffix]);
      const ownNameservers = readFileSync(resolvPath, 'utf8').split('\n').filter((l) => l.startsWith('nameserver ')).map((l) => l.split(/\s+/)[1]!);
      assert.deepEqual(mtJSON.SystemDNS?.Nameservers, ownNameservers, "the system DNS section is the namespace's own resolv.conf");

      // --accept-dns: quad-100 becomes the OS resolver, and dns status says exactly what was written.
      await ok(mt, ['set', '--accept-dns']);
      let on: DNSStatus | undefined;
      await waitFor('dns status: Meshtray installed the OS resolver', async () => {
        on = JSON.parse(await ok(mt, ['dns', 'status', '--json'])) as DNSStatus;
        return on.Meshtray?.OSResolverInstalled === true || JSON.stringify(on.Meshtray);
      }, { timeoutMs: 15_000, intervalMs: 300 });
      const written = readFileSync(resolvPath, 'utf8');
      const lines = (k: string) => written.split('\n').filter((l) => l.startsWith(k + ' ')).flatMap((l) => l.split(/\s+/).slice(1));
      assert.equal(on!.TailscaleDNS, true);
      assert.equal(on!.Meshtray?.OSResolver?.Nameservers[0], '100.100.100.100');
      assert.deepEqual(on!.Meshtray?.OSResolver?.Nameservers, lines('nameserver'), `resolv.conf:\n${written}`);
      assert.deepEqual(on!.Meshtray?.OSResolver?.SearchDomains, lines('search'));
      assert.deepEqual(on!.Meshtray?.Routes[`${SPLIT_SUFFIX}.`], [{ Addr: SPLIT_NS }], 'quad-100 forwards the split suffix to its server');
      assert.deepEqual(on!.SystemDNS?.Nameservers, ownNameservers, "still the OS's own resolver, not ours");
      const onText = await ok(mt, ['dns', 'status']);
      t.diagnostic(`meshtray dns status (m1, --accept-dns):\n${onText}`);
      assert.equal(dnsSection(onText, "'Use Tailscale DNS' status")[0], 'Tailscale DNS: enabled.');
      const mine = dnsSection(onText, 'Meshtray on this device');
      assert.deepEqual(mine.slice(0, 3), ['OS resolver: set by Meshtray (/etc/resolv.conf)', 'Nameservers:', '  - 100.100.100.100']);
      assert.ok(mine.some((l) => new RegExp(`^  - ${SPLIT_SUFFIX.replace('.', '\\.')}\\. +-> ${SPLIT_NS.replace(/\./g, '\\.')}$`).test(l)), mine.join('\n'));
      assert.ok(mine.includes('  - tailnet.test.'), 'MagicDNS answers the tailnet suffix itself');

      // --accept-dns=false: disabled again, resolv.conf given back byte for byte.
      await ok(mt, ['set', '--accept-dns=false']);
      let offText = '';
      await waitFor('dns status: OS resolver given back', async () => {
        offText = await ok(mt, ['dns', 'status']);
        return /^OS resolver: not changed by Meshtray/m.test(offText) || offText;
      }, { timeoutMs: 15_000, intervalMs: 300 });
      assert.equal(dnsSection(offText, "'Use Tailscale DNS' status")[0], 'Tailscale DNS: disabled.');
      assert.deepEqual(readFileSync(resolvPath), resolvBefore, 'resolv.conf byte for byte');
    },
  );
});
