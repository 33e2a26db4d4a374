// The verbs tailscale users reach for daily beyond up/status: `exit-node list|suggest`, `whois`, the
// status table flags, `ip --assert`, and one-line usage errors. Layout checks compare with what Go's
// text/tabwriter printed for the same cells (the GO_* strings were printed by a Go 1.26 program using
// tabwriter.NewWriter exactly as tailscale's exitnode.go, whois.go and status.go do); the data is the
// status a REAL meshtrayd served in the lab (fixtures/status-exit-node.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../../main/cli/cli.js';
import { tabwrite } from '../../../main/cli/tabwriter.js';
import { CliFail, exitNodeStatus, formatExitNodeList, formatSuggestion, lastSeenFmt, suggestExitNode } from '../../../main/cli/exit-node.js';
import { formatWhoIs, parseWhoisArg, whoIs, whoIsJSON } from '../../../main/cli/whois.js';
import { formatStatus } from '../../../main/cli/status-format.js';
import { StatusSchema, type PeerStatus, type Status } from '../../../common/schemas/status.js';
import type { ApiResponse } from '../../../common/contract/api.js';
import { cliAgainst } from './cli-harness.js';
import { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';
import { recordedExitNodeStatus } from './fixtures/status-exit-node.js';

const GO_EXIT_LIST = "\n IP              HOSTNAME              COUNTRY     CITY      STATUS                        \n 100.64.0.2      exit.tailnet.test     -           -         selected                      \n 100.64.0.12     z.tailnet.test        -           -         offline, last seen 5m ago     \n\n# hint a\n";
const GO_WHOIS_EXIT = "Machine:\n  Name:           exit.tailnet.test\n  ID:             2\n  Addresses:      [100.64.0.2/32 fd7a:115c:a1e0::2/128]\n  AllowedIPs:     [0.0.0.0/0 ::/0]\nUser:\n  Name:     lab@example.com\n  ID:       1\n";
const GO_STATUS_HEADER = "IP          Hostname  Owner  OS     Status                                                        \n--          --------  -----  --     ------                                                        \n100.64.0.4  m1        lab@   linux  -                                                             \n100.64.0.2  exit      lab@   linux  active; exit node; direct 198.51.100.70:41641, tx 444 rx 353  \n";

const NOW = Date.parse('2026-11-23T22:10:00Z');
const recorded = (): Status => StatusSchema.parse(structuredClone(recordedExitNodeStatus));
const key = (n: number) => 'nodekey:' + n.toString(16).padStart(2, '0').repeat(32);

function peer(n: number, over: Partial<PeerStatus>): PeerStatus {
  return {
    ID: String(n), PublicKey: key(n), HostName: `p${n}`, DNSName: `p${n}.tailnet.test.`, OS: 'linux', UserID: 1,
    TailscaleIPs: [`100.64.0.${n}`, `fd7a:115c:a1e0::${n}`], AllowedIPs: [`100.64.0.${n}/32`, `fd7a:115c:a1e0::${n}/128`], CurAddr: '', Relay: 'lab1', RxBytes: 0, TxBytes: 0,
    Created: '2026-11-23T10:00:00Z', LastSeen: '0001-01-01T00:00:00Z', LastHandshake: '0001-01-01T00:00:00Z', Online: true, ExitNode: false, ExitNodeOption: false,
    Active: false, InNetworkMap: true, InMagicSock: true, InEngine: true, ...over,
  };
}

function withPeers(peers: PeerStatus[]): Status {
  const st = recorded();
  st.Peer = Object.fromEntries(peers.map((p) => [p.PublicKey, p]));
  return st;
}

test('tabwrite lays out cells exactly as Go text/tabwriter does (exit-node list, whois, status --header)', () => {
  assert.equal(tabwrite('\n IP\tHOSTNAME\tCOUNTRY\tCITY\tSTATUS\t\n 100.64.0.2\texit.tailnet.test\t-\t-\tselected\t\n 100.64.0.12\tz.tailnet.test\t-\t-\toffline, last seen 5m ago\t\n\n# hint a\n', { minWidth: 10, padding: 5 }), GO_EXIT_LIST);
  assert.equal(tabwrite('Machine:\n  Name:\texit.tailnet.test\n  ID:\t2\n  Addresses:\t[100.64.0.2/32 fd7a:115c:a1e0::2/128]\n  AllowedIPs:\t[0.0.0.0/0 ::/0]\nUser:\n  Name:\tlab@example.com\n  ID:\t1\n', { minWidth: 10, padding: 5 }), GO_WHOIS_EXIT);
  assert.equal(tabwrite('IP\tHostname\tOwner\tOS\tStatus\t\n--\t--------\t-----\t--\t------\t\n100.64.0.4\tm1\tlab@\tlinux\t-\t\n100.64.0.2\texit\tlab@\tlinux\tactive; exit node; direct 198.51.100.70:41641, tx 444 rx 353\t\n', { minWidth: 0, padding: 2 }), GO_STATUS_HEADER);
});

test('exit-node list from the recorded status: the one exit node, selected, tailscale columns and hints', () => {
  const text = formatExitNodeList(recorded(), '', NOW);
  assert.equal(text, tabwrite([
    '',
    ' IP\tHOSTNAME\tCOUNTRY\tCITY\tSTATUS\t',
    ' 100.64.0.2\texit.tailnet.test\t-\t-\tselected\t',
    '',
    '# To view the complete list of exit nodes for a country, use `meshtray exit-node list --filter=` followed by the country name.',
    '# To use an exit node, use `meshtray set --exit-node=` followed by the IP or hostname.',
    '# To have Meshtray suggest an exit node, use `meshtray exit-node suggest`.',
    '',
  ].join('\n'), { minWidth: 10, padding: 5 }));
  // sr and t1 do not offer an exit node: not listed.
  assert.doesNotMatch(text, /sr\.tailnet|t1\.tailnet/);
  assert.match(text.split('\n')[2]!, /^ 100\.64\.0\.2 +exit\.tailnet\.test +- +- +selected +$/);
});

test('exit-node list: sorted by DNS name, status words of tailscale peerStatus, no-exit-node and --filter errors', () => {
  const st = withPeers([
    peer(9, { HostName: 'zz', DNSName: 'zz.tailnet.test.', ExitNodeOption: true, Online: false, LastSeen: '2026-11-23T22:05:00Z' }),
    peer(7, { HostName: 'aa', DNSName: 'aa.tailnet.test.', ExitNodeOption: true }),
    peer(8, { HostName: 'mm', DNSName: 'mm.tailnet.test.', ExitNodeOption: true, ExitNode: true, Online: false }),
    peer(6, { HostName: 'plain', DNSName: 'plain.tailnet.test.' }),
  ]);
  const rows = formatExitNodeList(st, '', NOW).split('\n').filter((l) => l.startsWith(' 100.')).map((l) => l.trim().split(/ {2,}/));
  assert.deepEqual(rows, [
    ['100.64.0.7', 'aa.tailnet.test', '-', '-', '-'],
    ['100.64.0.8', 'mm.tailnet.test', '-', '-', 'selected but offline'],
    ['100.64.0.9', 'zz.tailnet.test', '-', '-', 'offline, last seen 5m ago'],
  ]);
  assert.throws(() => formatExitNodeList(withPeers([peer(6, {})]), '', NOW), new CliFail('no exit nodes found'));
  // No node carries location data (Headscale sends none), so a country filter matches nothing — as tailscale answers.
  assert.throws(() => formatExitNodeList(st, 'Sweden', NOW), new CliFail('no exit nodes found for "Sweden"'));
  // Without an online candidate there is nothing to suggest, so no suggest hint.
  assert.doesNotMatch(formatExitNodeList(withPeers([peer(9, { ExitNodeOption: true, Online: false })]), '', NOW), /exit-node suggest/);
  assert.equal(lastSeenFmt('2026-11-23T22:09:50Z', NOW), ', last seen 1m ago', 'at least one minute');
  assert.equal(lastSeenFmt('2026-11-23T19:00:00Z', NOW), ', last seen 3h ago');
  assert.equal(lastSeenFmt('2026-11-20T22:10:00Z', NOW), ', last seen 3d ago');
  assert.equal(lastSeenFmt('0001-01-01T00:00:00Z', NOW), '');
  assert.equal(exitNodeStatus(peer(1, { ExitNode: true, Active: true }), NOW), 'selected');
});

function netcheck(lat: Record<string, number>): ApiResponse<'netcheck'> {
  return {
    Report: { Now: '2026-11-23T22:10:00Z', UDP: true, IPv4: true, IPv6: false, OSHasIPv6: true, MappingVariesByDestIP: false, PreferredDERP: 900, RegionLatency: lat, GlobalV4: '198.51.100.101:41641', GlobalV6: '' },
    Regions: [{ RegionID: 900, RegionCode: 'lab1', RegionName: 'Lab One' }, { RegionID: 901, RegionCode: 'lab2', RegionName: 'Lab Two' }],
  };
}

test('exit-node suggest: the online exit node in the lowest-latency home DERP region; the one in use wins a tie', () => {
  const a = peer(7, { HostName: 'a', DNSName: 'a.tailnet.test.', ExitNodeOption: true, Relay: 'lab1' });
  const b = peer(8, { HostName: 'b', DNSName: 'b.tailnet.test.', ExitNodeOption: true, Relay: 'lab2' });
  const c = peer(9, { HostName: 'c', DNSName: 'c.tailnet.test.', ExitNodeOption: true, Relay: 'lab2' });
  const off = peer(10, { HostName: 'off', DNSName: 'off.tailnet.test.', ExitNodeOption: true, Relay: 'lab2', Online: false });
  const st = withPeers([a, b, c, off]);
  assert.equal(suggestExitNode(st, netcheck({ 900: 9_000_000, 901: 2_000_000 }))?.name, 'b.tailnet.test.');
  assert.equal(suggestExitNode(st, netcheck({ 900: 1_000_000, 901: 2_000_000 }))?.name, 'a.tailnet.test.');
  const inUse = withPeers([a, b, { ...c, ExitNode: true }, off]);
  assert.equal(suggestExitNode(inUse, netcheck({ 900: 9_000_000, 901: 2_000_000 }))?.name, 'c.tailnet.test.');
  // No latency measured (no netcheck, or no answer from either region): still an online one, never the offline one.
  assert.equal(suggestExitNode(st, undefined)?.name, 'a.tailnet.test.');
  assert.equal(suggestExitNode(withPeers([off, peer(6, {})]), netcheck({})), undefined);
  assert.equal(formatSuggestion(undefined), 'No exit node suggestion is available.\n');
  const s = suggestExitNode(st, netcheck({ 900: 9_000_000, 901: 2_400_000 }))!;
  assert.equal(formatSuggestion(s), 'Suggested exit node: b.tailnet.test.\nTo accept this suggestion, use `meshtray set --exit-node=b.tailnet.test.`.\n# Chosen because: home DERP region "lab2" has the lowest latency (2.4 ms).\n');
  // The recorded lab status: one online exit node.
  assert.equal(suggestExitNode(recorded(), undefined)?.name, 'exit.tailnet.test.');
});

test('whois: peer and self by IP, ip:port, [v6]:port or node key; tailscale layout; errors in one line', () => {
  const st = recorded();
  assert.equal(formatWhoIs(whoIs(st, '100.64.0.2')), GO_WHOIS_EXIT);
  assert.equal(formatWhoIs(whoIs(st, '100.64.0.2:443')), GO_WHOIS_EXIT);
  assert.equal(formatWhoIs(whoIs(st, '[FD7A:115C:A1E0:0::2]:8080')), GO_WHOIS_EXIT);
  assert.equal(formatWhoIs(whoIs(st, 'nodekey:88fad8abb7be28b10134097683a0151d622dd6d926ca10d67995ac55ac5eb421')), GO_WHOIS_EXIT);
  const self = whoIs(st, 'fd7a:115c:a1e0::4');
  assert.equal(self.self, true);
  assert.match(formatWhoIs(self), /^Machine:\n {2}Name: +m1\.tailnet\.test\n {2}ID: +4\n {2}Addresses: +\[100\.64\.0\.4\/32 fd7a:115c:a1e0::4\/128\]\nUser:\n/);
  assert.doesNotMatch(formatWhoIs(self), /AllowedIPs/, 'no routes beyond its addresses');
  const tagged = withPeers([peer(5, { Tags: ['tag:server', 'tag:web'] })]);
  assert.match(formatWhoIs(whoIs(tagged, '100.64.0.5')), /\n {2}Tags: +tag:server, tag:web\n$/);
  assert.doesNotMatch(formatWhoIs(whoIs(tagged, '100.64.0.5')), /User:/);
  assert.throws(() => whoIs(st, '100.64.0.99'), new CliFail('peer not found'));
  for (const bad of ['exit', '100.64.0.2:99999', '1.2.3', '::1::2', '100.64.0.2:', '[100.64.0.2]:80']) {
    assert.throws(() => parseWhoisArg(bad), (e: unknown) => e instanceof CliFail && !e.message.includes('\n'), bad);
  }
  const j = whoIsJSON(whoIs(st, '100.64.0.2')) as { Node: Record<string, unknown>; UserProfile: Record<string, unknown> };
  assert.deepEqual([j.Node['Name'], j.Node['StableID'], j.Node['AllowedIPs'], j.UserProfile['LoginName']], ['exit.tailnet.test.', '2', ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128', '0.0.0.0/0', '::/0'], 'lab@example.com']);
});

test('status table flags: --header (tabwriter layout), --self=false, --peers=false, --active', () => {
  const st = recorded();
  st.Health = null;
  st.Peer = Object.fromEntries(Object.entries(st.Peer!).filter(([, p]) => p.HostName === 'exit'));
  assert.equal(formatStatus(st, { header: true }).text, GO_STATUS_HEADER.split('\n').map((l) => l.trimEnd()).join('\n'));
  const names = (v: Parameters<typeof formatStatus>[1]) => formatStatus(recorded(), v).text.split('\n').filter((l) => /^\d/.test(l)).map((l) => l.split(/\s+/)[1]);
  assert.deepEqual(names({}), ['m1', 'exit', 'sr', 't1']);
  assert.deepEqual(names({ self: false }), ['exit', 'sr', 't1']);
  assert.deepEqual(names({ peers: false }), ['m1']);
  assert.deepEqual(names({ active: true }), ['m1', 'exit']);
  assert.deepEqual(names({ self: false, active: true }), ['exit']);
  // Nothing to show but the health warnings: tailscale prints a blank line and the warnings.
  assert.match(formatStatus(recorded(), { self: false, peers: false }).text, /^\n# Health check:\n/);
});

class NetcheckBackend extends FakeLocalApiBackend {
  latency: Record<string, number> = {};
  async netcheck(): Promise<ApiResponse<'netcheck'>> {
    return netcheck(this.latency);
  }
}

const daemon = cliAgainst;

test('through the LocalAPI: whois, exit-node list/suggest, status flags, ip --assert, refused web flags', async (t) => {
  const backend = new NetcheckBackend();
  backend.statusValue = recorded();
  const cli = await daemon(t, backend);
  assert.deepEqual(await cli(['whois', '100.64.0.2:22']), { code: 0, out: GO_WHOIS_EXIT, err: '' });
  assert.deepEqual(await cli(['whois', '100.64.0.77']), { code: 1, out: '', err: 'peer not found\n' });
  const wj = await cli(['whois', '--json', '100.64.0.3']);
  assert.equal((JSON.parse(wj.out) as { Node: { Name: string } }).Node.Name, 't1.tailnet.test.');
  assert.equal((await cli(['whois', '--proto=sctp', '100.64.0.3'])).code, 2);

  const list = await cli(['exit-node', 'list']);
  assert.equal(list.code, 0);
  assert.equal(list.out, formatExitNodeList(recorded(), '', Date.now()));
  const filtered = await cli(['exit-node', 'list', '--filter=Germany']);
  assert.deepEqual([filtered.code, filtered.err], [1, 'no exit nodes found for "Germany"\n']);

  const sug = await cli(['exit-node', 'suggest']);
  assert.equal(sug.code, 0, sug.err);
  assert.match(sug.out, /^Suggested exit node: exit\.tailnet\.test\.\nTo accept this suggestion, use `meshtray set --exit-node=exit\.tailnet\.test\.`\.\n/);
  backend.statusValue = { ...recorded(), BackendState: 'Stopped' };
  assert.deepEqual(await cli(['exit-node', 'suggest']), { code: 1, out: '', err: 'suggest exit node: not running (state: Stopped)\n' });
  backend.statusValue = recorded();

  const noSelf = await cli(['status', '--self=false', '--active']);
  assert.deepEqual(noSelf.out.split('\n').filter((l) => /^\d/.test(l)).map((l) => l.split(/\s+/)[1]), ['exit']);
  const js = JSON.parse((await cli(['status', '--json', '--active'])).out) as Status;
  assert.deepEqual(Object.values(js.Peer!).map((p) => p.HostName), ['exit']);
  const jn = JSON.parse((await cli(['status', '--json', '--peers=false'])).out) as Status;
  assert.equal(jn.Peer, null);
  assert.equal(jn.Self?.HostName, 'm1');
  assert.match((await cli(['status', '--header'])).out, /^IP +Hostname +Owner +OS +Status\n-- +-------- +----- +-- +------\n/);

  for (const args of [['status', '--web'], ['status', '--listen=127.0.0.1:0'], ['status', '--browser=false']]) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.out, '');
    assert.match(r.err, /^meshtray: status --(web|listen|browser) is not supported: Meshtray has no status web page \(use "meshtray status --json"\)\n$/);
  }

  assert.deepEqual(await cli(['ip', '--assert=100.64.0.4']), { code: 0, out: '', err: '' });
  assert.deepEqual(await cli(['ip', '--assert=fd7a:115c:a1e0:0:0::4']), { code: 0, out: '', err: '' });
  assert.deepEqual(await cli(['ip', '--assert=100.64.0.2']), { code: 1, out: '', err: 'assertion failed: IP "100.64.0.2" not found among [100.64.0.4 fd7a:115c:a1e0::4]\n' });
  assert.deepEqual(await cli(['ip', '-4', 'exit']), { code: 0, out: '100.64.0.2\n', err: '' });
  assert.deepEqual(await cli(['ip', '-6', 'exit.tailnet.test']), { code: 0, out: 'fd7a:115c:a1e0::2\n', err: '' });
  assert.deepEqual(await cli(['ip', '-1', '100.64.0.3']), { code: 0, out: '100.64.0.3\n', err: '' });
});

test('usage errors: one line naming the command, with where to find its usage, and a non-zero exit', async () => {
  const run = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(['--socket=/nonexistent/s.sock', ...args], { out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  };
  const cases: Array<[string[], RegExp]> = [
    [['frob'], /^meshtray: unknown command 'frob'; see 'meshtray --help'\n$/],
    [['stauts'], /^meshtray: unknown command 'stauts' \(Did you mean status\?\); see 'meshtray --help'\n$/],
    [['exit-node', 'lst'], /^meshtray exit-node: unknown command 'lst' \(Did you mean list\?\); see 'meshtray exit-node --help'\n$/],
    [['exit-node', 'list', '--country=SE'], /^meshtray exit-node list: unknown option '--country=SE'; see 'meshtray exit-node list --help'\n$/],
    [['exit-node', 'list', 'extra'], /^meshtray exit-node list: too many arguments/],
    [['whois'], /^meshtray whois: missing required argument 'ip\[:port\]'; see 'meshtray whois --help'\n$/],
    [['whois', '1.2.3.4', '5'], /^meshtray whois: too many arguments/],
    [['status', '--bogus'], /^meshtray status: unknown option '--bogus'; see 'meshtray status --help'\n$/],
    [['ip', '--assert'], /^meshtray ip: option '--assert <ip>' argument missing; see 'meshtray ip --help'\n$/],
    [['status', '--self=maybe'], /^meshtray: invalid boolean value "maybe" for -self/],
  ];
  for (const [args, want] of cases) {
    const r = await run(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.equal(r.out, '', args.join(' '));
    assert.match(r.err, want, args.join(' '));
    assert.equal(r.err.split('\n').filter(Boolean).length, 1, `${args.join(' ')} → ${JSON.stringify(r.err)}`);
  }
});

test('status peers in tailscale SortPeers order: DNS name bytewise, then host name, then first IP', () => {
  const st = withPeers([
    peer(20, { HostName: 'ab', DNSName: 'ab.tailnet.test.' }),
    peer(21, { HostName: 'a-b', DNSName: 'a-b.tailnet.test.' }),
    peer(9, { HostName: 'x', DNSName: '' }),
    peer(10, { HostName: 'x', DNSName: '' }),
    peer(22, { HostName: 'Zed', DNSName: 'Zed.tailnet.test.' }),
  ]);
  const ips = formatStatus(st, { self: false }).text.split('\n').filter((l) => /^\d/.test(l)).map((l) => l.split(/\s+/)[0]);
  // "" < "Zed…" < "a-b…" < "ab…" bytewise; the two without a DNS name by IP (100.64.0.9 before .10).
  assert.deepEqual(ips, ['100.64.0.9', '100.64.0.10', '100.64.0.22', '100.64.0.21', '100.64.0.20']);
});
