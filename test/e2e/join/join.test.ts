// Issue 4 end to end against the lab's REAL Headscale v0.29.2 and REAL tailscaled v1.98.10:
// Meshtray (meshtrayd + meshtray CLI, as MeshtraydPeer) joins with a pre-auth key, is seen by
// Headscale and by a tailscaled peer, sees peers join/leave/go offline through deltas, gets route
// approvals and renames, survives a Headscale restart, logs in interactively, and never writes a
// secret to its logs or status output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLab } from '../../lab/with-lab.js';
import { peerByHostName, type Status } from '../../lab/peer-output.js';
import { authIdFromUrl } from '../../lab/headscale.js';
import type { Lab } from '../../lab/lab.js';
import type { Peer } from '../../lab/peer.js';

const STATE_FILE = 'meshtrayd.state';

function stateOf(peer: Peer): Record<string, string> {
  return JSON.parse(readFileSync(join(peer.dir, STATE_FILE), 'utf8')) as Record<string, string>;
}

function daemonLog(peer: Peer): string {
  return readFileSync(join(peer.logDir, 'meshtrayd.log'), 'utf8');
}

/** Every secret this Meshtray node holds: key texts and their bare hex. */
function secretsOf(peer: Peer, authKey: string): string[] {
  const st = stateOf(peer);
  const profile = JSON.parse(st['profile'] ?? '{}') as { PrivateNodeKey?: string; OldPrivateNodeKey?: string };
  const keys = [st['_machinekey'], profile.PrivateNodeKey, profile.OldPrivateNodeKey].filter((k): k is string => !!k);
  assert.ok(keys.length >= 2, 'machine and node private keys are in the state file');
  // The headscale key's secret part alone must not leak either (hskey-auth-<prefix>-<secret>). The
  // secret is base64url and may itself contain '-' (even end with one), so take everything after
  // the prefix, not the last '-' piece (which was once empty, and '' is in every log).
  const secretPart = /^hskey-auth-[^-]+-(.+)$/.exec(authKey)?.[1] ?? authKey;
  const all = [authKey, secretPart, ...keys, ...keys.map((k) => k.slice('privkey:'.length))];
  assert.ok(all.every((x) => x.length >= 16), 'every secret looked for is long enough to mean something');
  return all;
}

async function hsNode(lab: Lab, name: string) {
  const n = await lab.headscale.nodeByName(name);
  assert.ok(n, `headscale nodes list shows ${name}`);
  return n;
}

async function meshStatusJson(peer: Peer): Promise<{ raw: string; st: Status }> {
  const r = await peer.cli(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return { raw: r.stdout, st: JSON.parse(r.stdout) as Status };
}

test('meshtray joins a real Headscale tailnet and tracks it (pre-auth key, deltas, routes, rename, restart, no secrets)', { timeout: 420_000 }, async (t) => {
  await withLab(t, { name: 'e2e-join', derpRegions: 1, hosts: [{ name: 'a1', nat: 'easy' }, { name: 'm1', nat: 'easy', peer: 'meshtrayd', join: false }] }, async (lab) => {
    const a1 = lab.peer('a1');
    const m1 = lab.peer('m1');
    assert.equal(m1.kind, 'meshtrayd');
    const authKey = await lab.authKey();

    // 1. `meshtray up --authkey` joins (the spelling tailscale also accepts).
    const up = await m1.cli(['up', `--login-server=${lab.loginServer}`, `--authkey=${authKey}`, '--hostname=m1', '--accept-dns=false', '--timeout=60s'], 70_000);
    assert.equal(up.code, 0, `up failed: ${up.stderr}`);
    const daemonPid = m1.pid;

    // 2. Headscale lists the node.
    const node = await hsNode(lab, 'm1');
    assert.equal(node.user?.name, lab.user.name);
    const hsIPs = [...node.ip_addresses].sort();
    assert.ok(hsIPs.some((ip) => /^100\.64\.\d+\.\d+$/.test(ip)), `headscale gave m1 an IPv4: ${hsIPs}`);

    // Meshtray's own view of its addresses matches Headscale's.
    const ipOut = await m1.cli(['ip']);
    assert.equal(ipOut.code, 0, ipOut.stderr);
    assert.deepEqual(ipOut.stdout.trim().split('\n').sort(), hsIPs);
    const ip4 = await m1.cli(['ip', '-4']);
    assert.deepEqual(ip4.stdout.trim().split('\n'), hsIPs.filter((i) => !i.includes(':')));

    // 3. The real tailscaled peer lists Meshtray with the right name and addresses.
    const aSees = await a1.waitStatus('sees m1', (s) => peerByHostName(s, 'm1') !== undefined, 30_000);
    const mAsSeen = peerByHostName(aSees, 'm1')!;
    assert.equal(mAsSeen.HostName, 'm1');
    assert.match(mAsSeen.DNSName, /^m1\.tailnet\.test\.$/);
    assert.deepEqual([...mAsSeen.TailscaleIPs].sort(), hsIPs);
    assert.equal(mAsSeen.OS, 'linux');

    // 4. Meshtray's status --json lists the tailscaled peer with addresses, OS and Online.
    const aSelf = (await a1.status()).Self!;
    const mSees = await m1.waitStatus('sees a1 online', (s) => peerByHostName(s, 'a1')?.Online === true, 30_000);
    assert.equal(mSees.BackendState, 'Running');
    const aAsSeen = peerByHostName(mSees, 'a1')!;
    assert.deepEqual([...aAsSeen.TailscaleIPs].sort(), [...aSelf.TailscaleIPs].sort());
    assert.equal(aAsSeen.OS, 'linux');
    assert.equal(aAsSeen.DNSName, aSelf.DNSName);
    assert.match(mSees.Self?.DNSName ?? '', /^m1\.tailnet\.test\.$/);
    assert.equal(mSees.Self?.HostName, 'm1');
    // The text table too (tailscale layout: IP, name, owner, OS, state).
    const text = await m1.cli(['status']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${hsIPs.find((i) => !i.includes(':'))!.replace(/\./g, '\\.')}\\s+m1\\s`, 'm'));
    assert.match(text.stdout, /\ba1\s+\S+\s+linux\s+-/);
    // `ip <peer>` resolves a peer by name.
    const ipA = await m1.cli(['ip', '-4', 'a1']);
    assert.equal(ipA.stdout.trim(), aSelf.TailscaleIPs.find((i) => !i.includes(':')));

    // 5. A peer joining shows up within seconds, without re-login.
    const t0 = Date.now();
    await lab.addHost({ name: 'c1', nat: 'easy' });
    await m1.waitStatus('sees c1 join', (s) => peerByHostName(s, 'c1')?.Online === true, 20_000);
    t.diagnostic(`c1 appeared in meshtray status ${Date.now() - t0} ms after lab.addHost started`);

    // 6. Going offline (its tailscaled stopped) shows up as Online=false.
    const t1 = Date.now();
    lab.peer('c1').stop();
    await m1.waitStatus('sees c1 offline', (s) => peerByHostName(s, 'c1')?.Online === false, 40_000);
    t.diagnostic(`c1 offline seen after ${Date.now() - t1} ms (Headscale waits up to 10 s before announcing)`);

    // 7. Leaving (deleted on Headscale) removes it.
    const c1 = await hsNode(lab, 'c1');
    await lab.headscale.deleteNode(c1.id);
    await m1.waitStatus('sees c1 removed', (s) => peerByHostName(s, 'c1') === undefined, 20_000);

    // 8. A route approval on Headscale reaches the netmap (PrimaryRoutes/AllowedIPs of a1).
    const adv = await a1.cli(['set', '--advertise-routes=10.99.0.0/24']);
    assert.equal(adv.code, 0, adv.stderr);
    const a1Node = await hsNode(lab, 'a1');
    await waitHs(lab, 'a1 announces 10.99.0.0/24', async () => (await hsNode(lab, 'a1')).available_routes.includes('10.99.0.0/24'));
    await lab.headscale.approveRoutes(a1Node.id, ['10.99.0.0/24']);
    const routed = await m1.waitStatus('sees a1 route', (s) => (peerByHostName(s, 'a1')?.AllowedIPs ?? []).includes('10.99.0.0/24'), 20_000);
    assert.deepEqual(peerByHostName(routed, 'a1')!.PrimaryRoutes, ['10.99.0.0/24']);

    // 9. A rename on Headscale reaches the netmap (DNSName changes; HostName is what a1 reports).
    await lab.headscale.cli(['nodes', 'rename', '-i', String(a1Node.id), 'alpha']);
    await m1.waitStatus('sees a1 renamed', (s) => peerByHostName(s, 'a1')?.DNSName === 'alpha.tailnet.test.', 20_000);

    // All of the above were deltas on one login: Headscale still has one m1 node with the same ID.
    assert.equal((await lab.headscale.listNodes()).filter((n) => n.name === 'm1').length, 1);
    const keysBefore = stateOf(m1);

    // 10. Headscale restarted mid-stream: Meshtray reconnects on its own, netmap whole again, same node.
    // (a1's tailscaled may take a while to come back itself — it forces a TLS dial after a failed
    // Noise dial — so a1's Online bit is not what proves Meshtray's recovery; a fresh full netmap is.)
    const mapsBefore = (daemonLog(m1).match(/map: netmap received/g) ?? []).length;
    await lab.headscale.restart();
    const t2 = Date.now();
    const back = await m1.waitStatus(
      'reconnected after headscale restart',
      (s) =>
        (daemonLog(m1).match(/map: netmap received/g) ?? []).length > mapsBefore &&
        s.BackendState === 'Running' &&
        peerByHostName(s, 'a1') !== undefined &&
        !(s.Health ?? []).length,
      60_000,
    );
    t.diagnostic(`meshtray netmap whole again ${Date.now() - t2} ms after headscale came back`);
    assert.deepEqual([...(back.TailscaleIPs ?? [])].sort(), hsIPs);
    assert.equal(peerByHostName(back, 'a1')?.DNSName, 'alpha.tailnet.test.');
    assert.equal((await hsNode(lab, 'm1')).id, node.id, 'same node ID after the restart');
    const keysAfter = stateOf(m1);
    assert.equal(keysAfter['_machinekey'], keysBefore['_machinekey'], 'machine key unchanged');
    assert.equal(JSON.parse(keysAfter['profile']!).PrivateNodeKey, JSON.parse(keysBefore['profile']!).PrivateNodeKey, 'node key unchanged');
    assert.equal(m1.pid, daemonPid, 'same daemon process throughout');
    // And Headscale sees the reconnected node online again.
    await waitHs(lab, 'm1 online at headscale', async () => (await hsNode(lab, 'm1')).online === true);

    // 11. meshtrayd restarted: the stored login resumes without `up` (same keys, same node, no new registration).
    const logBeforeRestart = daemonLog(m1);
    m1.stop();
    await m1.start();
    const resumed = await m1.waitStatus('running again after daemon restart', (s) => s.BackendState === 'Running' && peerByHostName(s, 'a1') !== undefined, 30_000);
    assert.deepEqual([...(resumed.TailscaleIPs ?? [])].sort(), hsIPs);
    assert.equal((await hsNode(lab, 'm1')).id, node.id);
    assert.equal((await lab.headscale.listNodes()).filter((n) => n.name === 'm1').length, 1);
    assert.equal(stateOf(m1)['_machinekey'], keysBefore['_machinekey']);
    assert.ok(logBeforeRestart.length > 0);

    // 12. No private key, pre-auth key or token in the daemon's log or any status output.
    const outputs = [daemonLog(m1), up.stdout, up.stderr, (await meshStatusJson(m1)).raw, (await m1.cli(['status'])).stdout];
    const blob = outputs.join('\n');
    for (const s of secretsOf(m1, authKey)) assert.ok(!blob.includes(s), `a secret (${s.slice(0, 8)}…) appears in logs/status`);
    assert.match(daemonLog(m1), /logged in/, 'the log is the real one');

    // 13. Hostinfo change while running (`up --hostname`): sent as a lite update, no re-login; the
    // tailscaled peer sees the new HostName.
    const regsBefore = (daemonLog(m1).match(/"msg":"register answered"/g) ?? []).length;
    const re = await m1.cli(['up', `--login-server=${lab.loginServer}`, '--hostname=m1x', '--accept-dns=false', '--timeout=30s'], 40_000);
    assert.equal(re.code, 0, re.stderr);
    await a1.waitStatus('sees m1 as m1x', (s) => peerByHostName(s, 'm1x') !== undefined, 30_000);
    assert.match(daemonLog(m1), /sent Hostinfo update/);
    assert.equal((daemonLog(m1).match(/"msg":"register answered"/g) ?? []).length, regsBefore, 'no new registration');
  });
});

test('meshtray interactive login: up prints the AuthURL, the admin registers it, Running without restart; then logout', { timeout: 240_000 }, async (t) => {
  await withLab(t, { name: 'e2e-interactive', derpRegions: 1, hosts: [{ name: 'a1', nat: 'easy' }, { name: 'm2', nat: 'easy', peer: 'meshtrayd', join: false }] }, async (lab) => {
    const m2 = lab.peer('m2');
    const pid = m2.pid;
    // --json mode (what the lab's upInteractive uses): {"AuthURL":…,"BackendState":…} on stdout.
    const { authUrl, done } = await m2.upInteractive({ loginServer: lab.loginServer, hostname: 'm2', timeoutMs: 90_000 });
    assert.match(authUrl, new RegExp(`^${lab.loginServer.replace(/[.]/g, '\\.')}/register/hskey-authreq-[A-Za-z0-9_-]{24}$`));
    const waiting = await m2.status();
    assert.equal(waiting.BackendState, 'NeedsLogin');
    assert.equal(waiting.AuthURL, authUrl);
    await lab.headscale.registerAuthId(authIdFromUrl(authUrl), lab.user.name);
    const r = await done;
    assert.equal(r.code, 0, `up exited ${r.code}: ${r.stderr}`);
    const st = await m2.waitStatus('sees a1', (s) => s.BackendState === 'Running' && peerByHostName(s, 'a1')?.Online === true, 30_000);
    assert.equal(st.AuthURL, '');
    assert.equal(m2.pid, pid, 'no daemon restart');
    const n = await lab.headscale.nodeByName('m2');
    assert.ok(n, 'headscale lists m2');
    assert.equal(n.user?.name, lab.user.name);
    // The tailscaled peer sees it.
    await lab.peer('a1').waitStatus('sees m2', (s) => peerByHostName(s, 'm2')?.Online === true, 30_000);

    // Logout: the node key expires at Headscale, Meshtray needs a login again.
    const lo = await m2.logout();
    assert.equal(lo.code, 0, lo.stderr);
    const after = await m2.status();
    assert.equal(after.BackendState, 'NeedsLogin');
    const state = stateOf(m2);
    assert.equal(state['profile'], undefined, 'node key forgotten');
    await lab.peer('a1').waitStatus('sees m2 expired or gone', (s) => {
      const p = peerByHostName(s, 'm2') as (Status['Peer'][string] & { Expired?: boolean; KeyExpiry?: string }) | undefined;
      return p === undefined || p.Expired === true || p.Online === false;
    }, 30_000);

    // Log in again interactively in text mode: tailscale's wording on stderr. `up` gives up after its
    // --timeout, but the daemon keeps following up, so the admin's approval still completes the login.
    const textUp = await m2.cli(['up', `--login-server=${lab.loginServer}`, '--hostname=m2', '--accept-dns=false', '--timeout=3s'], 20_000);
    assert.equal(textUp.code, 1);
    const m = /^\nTo authenticate, visit:\n\n\t(\S+)\n\n/.exec(textUp.stderr);
    assert.ok(m, `stderr: ${JSON.stringify(textUp.stderr)}`);
    assert.match(textUp.stderr, /timeout waiting for Meshtray to enter a Running state/);
    const url2 = m[1]!;
    assert.notEqual(url2, authUrl, 'a new login after logout');
    assert.equal((await m2.status()).AuthURL, url2);
    await lab.headscale.registerAuthId(authIdFromUrl(url2), lab.user.name);
    const again = await m2.waitStatus('Running after second approval', (s) => s.BackendState === 'Running' && s.AuthURL === '', 30_000);
    assert.ok(again.Self, 'has a netmap again');
    assert.equal(m2.pid, pid, 'still the same daemon');
    // Same machine + same user: Headscale updates the node in place (control.md 6.7).
    const m2Nodes = (await lab.headscale.listNodes()).filter((x) => x.name === 'm2');
    assert.equal(m2Nodes.length, 1);

    // Re-login when the node key expires: the admin expires the node, Meshtray notices from its
    // netmap, rotates its node key and asks for a login again (no pre-auth key → AuthURL).
    const keyBefore = JSON.parse(stateOf(m2)['profile']!).PrivateNodeKey as string;
    await lab.headscale.expireNode(m2Nodes[0]!.id);
    const expired = await m2.waitStatus('needs login after expiry', (s) => s.BackendState === 'NeedsLogin' && s.AuthURL !== '', 30_000);
    await lab.headscale.registerAuthId(authIdFromUrl(expired.AuthURL), lab.user.name);
    await m2.waitStatus('Running after re-login', (s) => s.BackendState === 'Running' && s.AuthURL === '', 30_000);
    const keyAfter = JSON.parse(stateOf(m2)['profile']!).PrivateNodeKey as string;
    assert.notEqual(keyAfter, keyBefore, 'a new node key after expiry');
    assert.equal((await lab.headscale.nodeByName('m2'))?.id, m2Nodes[0]!.id, 'same Headscale node, updated in place');
    assert.equal(m2.pid, pid);
  });
});

test('meshtray up with a refused pre-auth key: one error line, non-zero exit, key not echoed', { timeout: 120_000 }, async (t) => {
  await withLab(t, { name: 'e2e-badkey', derpRegions: 1, hosts: [{ name: 'm3', nat: 'easy', peer: 'meshtrayd', join: false }] }, async (lab) => {
    const m3 = lab.peer('m3');
    const bogus = 'hskey-auth-AAAAAAAAAAAA-' + 'b'.repeat(64);
    const r = await m3.cli(['up', `--login-server=${lab.loginServer}`, `--auth-key=${bogus}`, '--timeout=30s'], 40_000);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^backend error: .+\n$/);
    assert.ok(!r.stderr.includes(bogus) && !daemonLog(m3).includes(bogus) && !daemonLog(m3).includes('b'.repeat(64)));
    assert.equal((await m3.status()).BackendState, 'NeedsLogin');
  });
});

async function waitHs(lab: Lab, what: string, pred: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
