// The daily `tailscale` verbs on a REAL meshtrayd, side by side with the REAL tailscale CLI (v1.98.10)
// on a tailscaled peer of the same Headscale (v0.29.2) tailnet: where both describe the same node, the
// two outputs must say the same thing in the same layout.
//   ip -4/-6/-1 <peer>, ip --assert    — the addresses tailscale reports for that peer
//   whois <ip[:port]>                  — the Machine/User block tailscale prints (before its Capabilities)
//   exit-node list                     — the table rows tailscale prints, before and after selecting
//   exit-node suggest                  — a name `set --exit-node=` accepts, which then carries traffic
//   status --self/--peers/--active/--header/--json, --web refused
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('meshtray ip / whois / exit-node / status flags against the tailscale CLI on a real tailnet', { timeout: 300_000 }, async (t) => {
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
    },
  );
});
