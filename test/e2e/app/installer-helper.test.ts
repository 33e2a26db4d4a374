// The privileged helper AS INSTALLED: `npm run build:helper` makes the single executable the packages
// ship; this test takes the ExecStart of assets/installer/linux/meshtray-helper.service, maps the
// unit's paths into a temp root (/opt/Meshtray/resources/helper → dist/helper, /run/meshtray and
// /var/lib/meshtray → temp dirs made with the unit's modes), and runs that command as root, with the
// unit's UMask, inside a network namespace of its own. The app's HelperClient says hello, opens a
// TUN (descriptors over SCM_RIGHTS: the shipped native addon works) and sets routes; the socket is
// what the unit promises (root:<group> 0660, non-members refused by the kernel); SIGTERM
// (systemd's stop) removes the socket and restores the kernel. The same executable runs meshtrayd (`meshtray-helper meshtrayd …`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HelperClient } from '../../../main/app/helper/helper-client.js';
import { HELPER_PROTOCOL_VERSION } from '../../../main/app/helper/helper-contract.js';
import { loadNativeFdApi } from '../../../main/app/helper/native-fds.js';
import { LocalClient } from '../../../main/client/localapi-client.js';
import type { RouterConfig } from '../../../main/engine/router/router.js';
import { netnsSkip, TestNs } from '../os/support.js';
import { repoRoot } from '../renderer/paths.js';
import { waitFor } from '../renderer/real-engine.js';
import { parseUnit, splitExecStart } from '../../unit/installer/installer-support.js';

const root = repoRoot();
const TUN = 'meshtray0';
const CFG: RouterConfig = {
  tunName: TUN,
  mtu: 1280,
  localAddrs: ['100.64.0.9/32'],
  routes: ['100.64.0.0/10', '0.0.0.0/0'],
  localRoutes: [],
  forwarding: { enabled: false, snat: false, statefulFiltering: false },
  netfilter: 'on',
};
/** The group the unit names is mapped to one that exists here; `nogroup` has no members. */
const TEST_GROUP = { name: 'nogroup', gid: 65534 };

function buildHelper(): string {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-helper.mjs')], { cwd: root, encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, `npm run build:helper failed:\n${r.stdout}\n${r.stderr}`);
  const exe = join(root, 'dist', 'helper', 'meshtray-helper');
  assert.ok(existsSync(exe));
  return exe;
}

interface Installed {
  argv: string[];
  runDir: string;
  stateDir: string;
  socket: string;
  umask: number;
  setpriv: string[];
}

/** The unit's ExecStart with its paths moved under `tmp`, and the directories systemd would create. */
function installedCommand(tmp: string): Installed {
  const unit = parseUnit(readFileSync(join(root, 'assets', 'installer', 'linux', 'meshtray-helper.service'), 'utf8'));
  const svc = unit['Service']!;
  const map = (s: string): string =>
    s
      .replace(/^\/opt\/Meshtray\/resources\/helper\//, join(root, 'dist', 'helper') + '/')
      .replace(/^\/run\/meshtray(?=\/|$)/, join(tmp, 'run', 'meshtray'))
      .replace(/^\/var\/lib\/meshtray(?=\/|$)/, join(tmp, 'var', 'lib', 'meshtray'));
  const words = splitExecStart(svc['ExecStart']![0]!).map(map);
  const g = words.indexOf('--socket-group');
  if (g >= 0) words[g + 1] = TEST_GROUP.name;
  // systemd creates RuntimeDirectory= and StateDirectory= with their modes before ExecStart.
  const runDir = join(tmp, 'run', svc['RuntimeDirectory']![0]!);
  const stateDir = join(tmp, 'var', 'lib', svc['StateDirectory']![0]!);
  mkdirSync(runDir, { recursive: true });
  chmodSync(runDir, parseInt(svc['RuntimeDirectoryMode']![0]!, 8));
  mkdirSync(stateDir, { recursive: true });
  chmodSync(stateDir, parseInt(svc['StateDirectoryMode']![0]!, 8));
  // The unit's capability bounding set and no_new_privs, applied with setpriv: the helper must do
  // its whole job with exactly these powers.
  const caps = svc['CapabilityBoundingSet']![0]!.split(/\s+/).map((c) => '+' + c.replace(/^CAP_/, '').toLowerCase());
  const setpriv = ['setpriv', '--inh-caps=-all', `--bounding-set=-all,${caps.join(',')}`, ...(svc['NoNewPrivileges']?.[0] === 'yes' ? ['--no-new-privs'] : [])];
  return { argv: words, runDir, stateDir, socket: words[words.indexOf('--socket') + 1]!, umask: parseInt(svc['UMask']![0]!, 8), setpriv };
}

function startInNs(ns: TestNs, inst: Installed): { proc: ChildProcess; out: () => string } {
  // setpriv drops to the unit's capabilities, sh applies its UMask and execs the command itself.
  const proc = spawn('ip', ['netns', 'exec', ns.name, ...inst.setpriv, 'sh', '-c', `umask ${inst.umask.toString(8).padStart(4, '0')} && exec "$@"`, 'sh', ...inst.argv], {
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out };
}

/** A hello as another user (setpriv): the helper's reply line, or the connect() errno code. */
function helloAs(uid: number, gid: number, groups: number[], socket: string): string {
  const js = `const s=require('net').connect(${JSON.stringify(socket)});let b='';s.setEncoding('utf8');s.on('connect',()=>s.write(JSON.stringify({op:'hello',version:${HELPER_PROTOCOL_VERSION}})+'\\n'));s.on('data',d=>{b+=d;if(b.includes('\\n')){console.log(b.trim());s.destroy()}});s.on('error',e=>console.log(e.code))`;
  const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, groups.length ? `--groups=${groups.join(',')}` : '--clear-groups', process.execPath, '-e', js], { encoding: 'utf8', timeout: 20_000 });
  return (r.stdout || r.stderr).trim();
}

function kernel(ns: TestNs): string {
  return [ns.sh(['ip', '-4', 'addr', 'show', 'dev', TUN]).stdout, ns.sh(['ip', '-4', 'route', 'show', 'table', '52'], { allowFail: true }).stdout, ns.sh(['ip', '-4', 'rule', 'show']).stdout, ns.sh(['iptables', '-S']).stdout].join('\n--\n');
}

const skip = netnsSkip('installed-helper e2e');

test('the helper as the unit runs it: built SEA, hello over the unit socket, socket root:group 0660 (members only), tun.open via the shipped addon, SIGTERM restores and removes', { skip, timeout: 240_000 }, async (t) => {
  const exe = buildHelper();
  const tmp = mkdtempSync(join(tmpdir(), 'mt-installed-helper-'));
  chmodSync(tmp, 0o755); // like / and /run: other users may traverse it (their refusal must come from the socket)
  const ns = new TestNs('h4inst');
  let helper: ReturnType<typeof startInNs> | undefined;
  try {
    const inst = installedCommand(tmp);
    assert.equal(inst.argv[0], exe, 'ExecStart is the built helper');
    ns.sh(['ip', 'tuntap', 'add', 'dev', TUN, 'mode', 'tun']);
    const before = kernel(ns);

    helper = startInNs(ns, inst);
    const h = helper;
    await waitFor('helper listening', () => {
      if (h.proc.exitCode !== null) throw new Error(`helper exited ${h.proc.exitCode}:\n${h.out()}`);
      return h.out().includes('helper listening') ? true : undefined;
    }, 30_000);

    // The app's client, as root. An answer means koffi's native module loaded from beside the
    // executable (without it the helper does not start) and SO_PEERCRED identified us (the helper
    // refuses peers it cannot identify).
    const client = new HelperClient(inst.socket, 30_000, () => loadNativeFdApi());
    assert.equal(await client.hello(), HELPER_PROTOCOL_VERSION);

    const st = statSync(inst.socket);
    assert.ok(st.isSocket());
    assert.equal(st.uid, 0, 'root-owned');
    assert.equal(st.mode & 0o007, 0, 'no access for other users');
    assert.equal(statSync(inst.stateDir).mode & 0o777, 0o700);
    // The unit's --socket-group: root:<group> 0660. Outside the group the kernel refuses connect();
    // a member (here by primary gid) gets an answer from the helper itself.
    assert.equal(st.gid, TEST_GROUP.gid, 'group-owned by the unit\'s group');
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(helloAs(65534, 1, [], inst.socket), 'EACCES', 'not in the group');
    assert.match(helloAs(65534, TEST_GROUP.gid, [], inst.socket), /^\{"ok":true,"version":\d+\}$/, 'a group member');

    // tun.open: the helper creates a TUN in its namespace and hands the descriptors over; this
    // needs the data-plane addon, which the executable loads from native/ beside itself.
    assert.doesNotMatch(h.out(), /no native addon/);
    const fds = await client.openTun({ name: 'meshtray1', mtu: 1280, addresses: ['100.64.0.10/32'], port: 0 });
    assert.equal(fds.name, 'meshtray1');
    assert.match(ns.sh(['ip', '-4', 'addr', 'show', 'dev', 'meshtray1']).stdout, /inet 100\.64\.0\.10\/32/);
    const api = loadNativeFdApi();
    api.closeFd(fds.tunFd);
    api.closeFd(fds.udpFd);

    await client.set(CFG);
    assert.match(kernel(ns), /inet 100\.64\.0\.9\/32/);
    assert.match(kernel(ns), /^-A INPUT -j mt-input/m, 'iptables works with the unit\'s capabilities');
    assert.match(kernel(ns), /^default dev meshtray0 table 52|^default dev meshtray0/m);

    // systemctl stop: SIGTERM. The helper restores the kernel and removes its socket, exit 0.
    const exited = new Promise<number | null>((r) => h.proc.once('exit', (c) => r(c)));
    h.proc.kill('SIGTERM');
    assert.equal(await exited, 0, h.out());
    helper = undefined;
    assert.equal(kernel(ns), before, 'routes, rules and addresses restored');
    assert.ok(!existsSync(inst.socket), 'socket removed');
  } finally {
    helper?.proc.kill('SIGKILL');
    ns.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the same executable runs meshtrayd: `meshtray-helper meshtrayd` answers status on its LocalAPI', { skip, timeout: 240_000 }, async () => {
  const exe = existsSync(join(root, 'dist', 'helper', 'meshtray-helper')) ? join(root, 'dist', 'helper', 'meshtray-helper') : buildHelper();
  const tmp = mkdtempSync(join(tmpdir(), 'mt-installed-meshtrayd-'));
  const socket = join(tmp, 'meshtrayd.sock');
  const proc = spawn(exe, ['meshtrayd', '--state=mem:', `--socket=${socket}`, '--tun=userspace-networking', '--port=0'], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: tmp } });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const c = new LocalClient({ socketPath: socket, timeoutMs: 5_000 });
    const st = await waitFor('meshtrayd LocalAPI', async () => {
      if (proc.exitCode !== null) throw new Error(`meshtrayd exited ${proc.exitCode}:\n${out}`);
      return existsSync(socket) ? await c.status() : undefined;
    }, 30_000);
    assert.ok(['NoState', 'NeedsLogin'].includes(st.BackendState), `fresh engine, not logged in: ${st.BackendState}`);
    assert.ok(st.Version.length > 0);
    const gone = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    assert.equal(await gone, 0, out);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
});
