// The Headscale/topology helpers other tests build on, exercised against the real binaries:
// interactive registration by AuthURL, routes approval with a subnet router and a LAN host, an exit
// node seen from a web host, policy set, and restart on the same database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authIdFromUrl } from './headscale.js';
import { peerByHostName } from './peer-output.js';
import { waitFor } from './proc.js';
import { withLab } from './with-lab.js';

const ALLOW_ALL_WITH_ROUTES = `{
  // 0.29: "*" means tailnet addresses only, so subnet and internet need their own grants
  "acls": [
    { "action": "accept", "src": ["*"], "dst": ["*:*"] },
    { "action": "accept", "src": ["*"], "dst": ["10.20.0.0/24:*"] },
    { "action": "accept", "src": ["*"], "dst": ["autogroup:internet:*"] },
  ],
}`;

test('headscale helpers: interactive login, subnet routes, exit node, policy, restart', { timeout: 240_000 }, async (t) => {
  await withLab(
    t,
    {
      hosts: [
        { name: 'a1', nat: 'easy' },
        { name: 'sr', nat: 'none', publicIp: '198.51.100.60', lan: { prefix: '10.20.0', hosts: ['lanhost'] }, upArgs: ['--advertise-routes=10.20.0.0/24'] },
        { name: 'exit', nat: 'none', publicIp: '198.51.100.70', ipForward: true, upArgs: ['--advertise-exit-node'] },
        { name: 'i1', nat: 'easy', join: false },
      ],
    },
    async (lab) => {
      const hs = lab.headscale;
      const a1 = lab.peer('a1');

      // Interactive: `up` prints Headscale's /register/<AUTH_ID> URL; `auth register` completes it.
      const { authUrl, done } = await lab.peer('i1').upInteractive({ loginServer: lab.loginServer, hostname: 'i1' });
      assert.ok(authUrl.startsWith(`${lab.loginServer}/register/`), authUrl);
      assert.match(authUrl, /\/register\/[A-Za-z0-9_-]+$/);
      await hs.registerAuthId(authIdFromUrl(authUrl), 'lab');
      const up = await done;
      assert.equal(up.code, 0, up.stderr);
      const i1Node = await hs.nodeByName('i1');
      assert.ok(i1Node, 'i1 registered');
      assert.equal(i1Node.user?.name, 'lab');
      const byKey = await hs.nodeByName('a1');
      assert.notEqual(byKey?.register_method, i1Node.register_method, 'CLI registration differs from pre-auth key registration');

      // Subnet router: advertised, approved by the CLI, then reachable from a1 with --accept-routes.
      const sr = await hs.nodeByName('sr');
      assert.deepEqual(sr?.available_routes, ['10.20.0.0/24']);
      await hs.approveRoutes(sr!.id, ['10.20.0.0/24']);
      assert.ok((await a1.cli(['set', '--accept-routes'])).code === 0);
      await a1.waitStatus('sr is primary for 10.20.0.0/24', (s) => peerByHostName(s, 'sr')?.PrimaryRoutes.includes('10.20.0.0/24') === true, 20_000);
      await waitFor('a1 pings lanhost 10.20.0.10 through sr', async () => (await lab.exec('a1', ['ping', '-c1', '-W1', '10.20.0.10'])).code === 0, { timeoutMs: 20_000, intervalMs: 200 });

      // Exit node: the web host sees a1's traffic from natA's address, then from the exit node's.
      const web = await lab.addWebHost();
      const seen = async () => (await lab.exec('a1', ['curl', '-s', '--max-time', '3', `http://${web.ip}/`])).stdout.trim();
      // The web host has just started: wait until it answers at all (once, under CI load, the first
      // 3-second request got nothing), then check whose address it saw.
      await waitFor('the web host answers a1', async () => (await seen()) !== '' || 'no answer yet', { timeoutMs: 20_000, intervalMs: 300 });
      assert.equal(await seen(), lab.host('a1').publicIp);
      const ex = await hs.nodeByName('exit');
      await hs.approveRoutes(ex!.id, ['0.0.0.0/0', '::/0']);
      await a1.waitStatus('exit offers itself', (s) => peerByHostName(s, 'exit')?.ExitNodeOption === true, 45_000); // Headscale's batcher can take a while under load
      const exitIp = peerByHostName(await a1.status(), 'exit')!.TailscaleIPs[0]!;
      assert.equal((await a1.cli(['set', `--exit-node=${exitIp}`])).code, 0);
      await waitFor('web sees the exit node', async () => (await seen()) === '198.51.100.70' || `web saw ${await seen()}`, { timeoutMs: 20_000, intervalMs: 300 });
      assert.equal((await a1.cli(['set', '--exit-node='])).code, 0);

      // Policy (database mode): deny-all hides peers; an allow policy brings them back.
      await hs.setPolicy('{ "grants": [] }');
      await a1.waitStatus('no peers visible under deny-all', (s) => Object.keys(s.Peer).length === 0, 20_000);
      await hs.setPolicy(ALLOW_ALL_WITH_ROUTES);
      assert.match(await hs.getPolicy(), /autogroup:internet/);
      await a1.waitStatus('peers back', (s) => peerByHostName(s, 'sr')?.Online === true, 20_000);
      await assert.rejects(hs.setPolicy('{ "acls": [ { "action": "maybe" } ] }'), /policy/i);

      // Restart on the same DB: nodes keep their addresses, peers reconnect by themselves.
      const before = await hs.listNodes();
      await hs.restart();
      const afterNodes = await hs.listNodes();
      assert.deepEqual(afterNodes.map((n) => [n.name, n.ip_addresses]).sort(), before.map((n) => [n.name, n.ip_addresses]).sort());
      await waitFor('a1 online again in headscale', async () => (await hs.nodeByName('a1'))?.online === true, { timeoutMs: 30_000, intervalMs: 300 });
      await waitFor('a1 still pings lanhost', async () => (await lab.exec('a1', ['ping', '-c1', '-W1', '10.20.0.10'])).code === 0, { timeoutMs: 20_000, intervalMs: 200 });
    },
  );
});

test('pre-auth keys: a tagged key makes a tagged-devices node, an ephemeral key an ephemeral one', { timeout: 120_000 }, async (t) => {
  await withLab(t, { hosts: [{ name: 'a1', join: false }, { name: 'e1', join: false }], derpRegions: 1 }, async (lab) => {
    const hs = lab.headscale;
    // tags need an owner in the policy (hs: docs/ref/registration.md)
    await hs.setPolicy('{ "tagOwners": { "tag:router": ["lab@"] }, "acls": [ { "action": "accept", "src": ["*"], "dst": ["*:*"] } ] }');
    await lab.join(lab.peer('a1'), { authKey: await lab.authKey({ tags: ['tag:router'] }) });
    await lab.join(lab.peer('e1'), { authKey: await lab.authKey({ ephemeral: true }) });
    const a1 = await hs.nodeByName('a1');
    assert.deepEqual(a1?.tags, ['tag:router']);
    assert.equal(a1?.user?.name, 'tagged-devices');
    const e1 = await hs.nodeByName('e1');
    assert.equal(e1?.user?.name, 'lab');
    assert.equal((e1?.['pre_auth_key'] as { ephemeral?: boolean } | undefined)?.ephemeral, true);
    // the key a node used is the shared reusable key unless asked otherwise
    assert.equal(await lab.authKey(), await lab.authKey());
  });
});
