// The control client against a REAL Headscale v0.29.2 on loopback: pre-auth registration and the
// first full MapResponse, a lite update seen by a second node, the interactive AuthURL flow
// completed by the admin CLI, a PingRequest answered, reconnecting after a Headscale restart, the
// capver floor, and no secret in our logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateKey } from '../../../main/engine/keys/keys.js';
import { systemRandom } from '../../../main/engine/ports/system.js';
import { ControlClient } from '../../../main/engine/control/client.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { LoopbackHeadscale, headscaleAvailable } from './headscale-loopback.js';
import { clock, recordingLogger, renderLogs, type LogLine } from '../../unit/engine/control/helpers.js';

const missing = headscaleAvailable();
if (missing && process.env.CI === 'true') throw new Error(`e2e control tests must run under CI=true: ${missing}`);
if (missing) process.stderr.write(`\n!!! SKIPPING Headscale e2e control tests: ${missing}\n\n`);

let hs: LoopbackHeadscale | undefined;
const logLines: LogLine[] = [];
const secrets: string[] = [];
const onExit = () => hs?.stop();

before(async () => {
  if (missing) return;
  process.once('exit', onExit);
  hs = await LoopbackHeadscale.start({ debug: true });
});
after(() => {
  hs?.stop();
  process.off('exit', onExit);
  // No pre-auth key and no private key ever reached a log line of ours.
  const text = renderLogs(logLines);
  for (const s of secrets) assert.ok(!text.includes(s), 'a secret appeared in the control client logs');
});

interface HsNode { id: number; name: string; given_name?: string; ip_addresses?: string[]; user?: { name: string }; node_key?: string; machine_key?: string; online?: boolean }

function newNode(name: string, capVer?: number) {
  const machine = PrivateKey.generate('machine', systemRandom);
  const node = PrivateKey.generate('node', systemRandom);
  const disco = PrivateKey.generate('disco', systemRandom);
  for (const k of [machine, node, disco]) secrets.push(k.toSecretText().slice('privkey:'.length));
  const client = new ControlClient({ serverURL: hs!.serverURL, machineKey: machine, logger: recordingLogger(logLines, name), clock, random: systemRandom, ...(capVer ? { capVer } : {}) });
  const hostinfo = { Hostname: name, OS: 'linux', OSVersion: 'e2e', IPNVersion: '0.1.0-meshtray' };
  const mapReq = { NodeKey: node.public.toString(), DiscoKey: disco.public.toString(), Hostinfo: hostinfo };
  return { machine, node, disco, client, hostinfo, mapReq };
}

async function createUser(name: string): Promise<number> {
  return ((await hs!.cliJson(['users', 'create', name])) as { id: number }).id;
}
async function preAuthKey(userId: number): Promise<string> {
  const k = ((await hs!.cliJson(['preauthkeys', 'create', '--user', String(userId), '--expiration', '1h', '--reusable'])) as { key: string }).key;
  secrets.push(k);
  return k;
}
async function nodes(): Promise<HsNode[]> {
  return ((await hs!.cliJson(['nodes', 'list'])) as HsNode[] | null) ?? [];
}

/** Runs a map stream until `until` says stop; returns all messages (aborting the stream). */
async function streamUntil(c: ControlClient, req: Parameters<ControlClient['mapStream']>[0], until: (msgs: Record<string, unknown>[]) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>[]> {
  const msgs: Record<string, unknown>[] = [];
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(new Error(`map stream: condition not met within ${timeoutMs} ms; got ${msgs.length} messages`)), timeoutMs);
  try {
    await c.mapStream(req, (m) => {
      msgs.push(m as Record<string, unknown>);
      if (until(msgs)) ac.abort();
    }, { signal: ac.signal });
  } catch (e) {
    if (!(e instanceof Error && e.name === 'AbortError')) throw e;
  } finally {
    clearTimeout(t);
  }
  return msgs;
}

test('pre-auth key: register, then the first full MapResponse has our node, its addresses and a DERP map', { skip: missing }, async () => {
  const uid = await createUser('alice');
  const key = await preAuthKey(uid);
  const a = newNode('mt-preauth');
  try {
    const reg = await a.client.register({ NodeKey: a.node.public.toString(), Auth: { AuthKey: key }, Hostinfo: a.hostinfo });
    assert.equal(reg.Error, '');
    assert.equal(reg.MachineAuthorized, true);
    assert.equal(reg.AuthURL, '');
    assert.equal(reg.User?.DisplayName ?? reg.Login?.LoginName, 'alice');

    const msgs = await streamUntil(a.client, a.mapReq, (m) => m.some((x) => x['Node']));
    const full = msgs.find((x) => x['Node'])!;
    const self = full['Node'] as { Key: string; Machine: string; Addresses: string[]; Name: string; Hostinfo?: { Hostname?: string } };
    assert.equal(self.Key, a.node.public.toString());
    assert.equal(self.Machine, a.machine.public.toString());
    assert.equal(self.Name, 'mt-preauth.tailnet.test.');
    assert.equal(self.Addresses.length, 2);
    const derp = full['DERPMap'] as { Regions: Record<string, { RegionCode: string }> };
    assert.equal(derp.Regions['900']?.RegionCode, 'loop');

    const listed = (await nodes()).find((n) => n.given_name === 'mt-preauth' || n.name === 'mt-preauth');
    assert.ok(listed, 'node is in `headscale nodes list`');
    assert.equal(listed.user?.name, 'alice');
    assert.deepEqual([...(listed.ip_addresses ?? [])].sort(), self.Addresses.map((p) => p.replace(/\/\d+$/, '')).sort());
    assert.equal(listed.node_key, a.node.public.toString());
  } finally {
    a.client.close();
  }
});

test('a lite update (Stream:false, OmitPeers:true) reaches a peer\'s map stream', { skip: missing }, async () => {
  const uid = await createUser('bob');
  const key = await preAuthKey(uid);
  const a = newNode('mt-watch');
  const b = newNode('mt-update');
  try {
    await a.client.register({ NodeKey: a.node.public.toString(), Auth: { AuthKey: key }, Hostinfo: a.hostinfo });
    await b.client.register({ NodeKey: b.node.public.toString(), Auth: { AuthKey: key }, Hostinfo: b.hostinfo });
    const bEndpoint = '192.0.2.44:41641';
    let sent = false;
    const msgs = await streamUntil(a.client, a.mapReq, (m) => {
      if (!sent && m.some((x) => x['Node'])) {
        sent = true;
        void b.client.mapUpdate({ ...b.mapReq, Endpoints: [bEndpoint], EndpointTypes: [1] });
      }
      return JSON.stringify(m.slice(1)).includes(bEndpoint);
    });
    assert.ok(JSON.stringify(msgs).includes(bEndpoint), 'peer endpoint from the lite update arrived');
  } finally {
    a.client.close();
    b.client.close();
  }
});

test('interactive: AuthURL, then the followup long-poll returns authorized after `headscale auth register`', { skip: missing }, async () => {
  await createUser('carol');
  const c = newNode('mt-interactive');
  try {
    const first = await c.client.register({ NodeKey: c.node.public.toString(), Hostinfo: c.hostinfo });
    assert.equal(first.MachineAuthorized, false);
    assert.match(first.AuthURL, new RegExp(`^${hs!.serverURL}/register/hskey-authreq-`));
    const authId = new URL(first.AuthURL).pathname.split('/').pop()!;
    const followup = c.client.register({ NodeKey: c.node.public.toString(), Hostinfo: c.hostinfo, Followup: first.AuthURL });
    let done = false;
    void followup.finally(() => (done = true)).catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(done, false, 'the followup waits for the admin');
    await hs!.cli(['auth', 'register', '--auth-id', authId, '--user', 'carol']);
    const r = await followup;
    assert.equal(r.Error, '');
    assert.equal(r.MachineAuthorized, true);
    const msgs = await streamUntil(c.client, c.mapReq, (m) => m.some((x) => x['Node']));
    assert.equal((msgs.find((x) => x['Node'])!['Node'] as { Key: string }).Key, c.node.public.toString());
    assert.equal((await nodes()).find((n) => n.given_name === 'mt-interactive')?.user?.name, 'carol');
  } finally {
    c.client.close();
  }
});

test('a PingRequest from Headscale (its /debug/ping page) is answered and Headscale sees the pong', { skip: missing }, async () => {
  const uid = await createUser('erin');
  const key = await preAuthKey(uid);
  const p = newNode('mt-ping');
  try {
    await p.client.register({ NodeKey: p.node.public.toString(), Auth: { AuthKey: key }, Hostinfo: p.hostinfo });
    const id = (await nodes()).find((n) => n.given_name === 'mt-ping')!.id;
    let page: Promise<string> | undefined;
    const answers: Promise<number>[] = [];
    const msgs = await streamUntil(p.client, p.mapReq, (m) => {
      const last = m[m.length - 1]!;
      // Once the full map is in, ask Headscale's debug page to ping us; it waits up to 30 s for the pong.
      if (last['Node'] && !page) page = fetch(`http://127.0.0.1:${hs!.metricsPort}/debug/ping?node=${id}`).then((r) => r.text());
      const pr = last['PingRequest'] as { URL: string; URLIsNoise?: boolean } | undefined;
      if (pr) answers.push(p.client.answerPing(pr));
      return pr !== undefined;
    });
    const pr = msgs.find((x) => x['PingRequest'])!['PingRequest'] as { URL: string };
    assert.match(pr.URL, new RegExp(`^${hs!.serverURL}/machine/ping-response\\?id=`));
    assert.deepEqual(await Promise.all(answers), [200]);
    const text = (await page!).replace(/<style[\s\S]*?<\/style>/g, '').replace(/<[^>]+>/g, ' ');
    assert.match(text, new RegExp(`Node ${id} responded in`));
  } finally {
    p.client.close();
  }
});

test('Headscale restarted mid-stream: the stream rejects, the next stream dials anew and gets a full map', { skip: missing }, async () => {
  const uid = await createUser('dave');
  const key = await preAuthKey(uid);
  const d = newNode('mt-restart');
  try {
    await d.client.register({ NodeKey: d.node.public.toString(), Auth: { AuthKey: key }, Hostinfo: d.hostinfo });
    const dialsBefore = d.client.stats.dials;
    const got: unknown[] = [];
    let restarting: Promise<void> | undefined;
    const stream = d.client.mapStream(d.mapReq, (m) => {
      got.push(m);
      restarting ??= hs!.restart();
    }, { signal: new AbortController().signal });
    await assert.rejects(stream, (e: unknown) => MeshtrayError.is(e) && (e.code === 'ERR_CONTROL_UNREACHABLE' || e.code === 'ERR_CONTROL_PROTOCOL'));
    await restarting;
    assert.ok(got.length >= 1);
    const msgs = await streamUntil(d.client, d.mapReq, (m) => m.some((x) => x['Node']));
    assert.ok(msgs.some((x) => x['Node']));
    assert.equal(d.client.stats.dials, dialsBefore + 1);
  } finally {
    d.client.close();
  }
});

test('a capability version below Headscale\'s floor (113) is refused right after the 101', { skip: missing }, async () => {
  const old = newNode('mt-old', 100);
  try {
    await assert.rejects(old.client.register({ NodeKey: old.node.public.toString(), Hostinfo: old.hostinfo }), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_CONTROL_PROTOCOL' && /after the 101/.test(e.message));
  } finally {
    old.client.close();
  }
});
