// The deb/rpm scripts, run for real with sh after electron-builder's macro expansion, against a
// temp root (MESHTRAY_INSTALL_ROOT) with the system tools they call (systemctl, groupadd, usermod,
// getent, loginctl, update-alternatives, …) stubbed on PATH, each recording its argv. Asserts the
// calls in order and the files left behind, for install, upgrade, remove and purge (deb's and
// rpm's argument conventions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expandFpmTemplate, FPM_VARS, installerDir } from './installer-support.js';

const STUBS = ['systemctl', 'groupadd', 'groupdel', 'usermod', 'getent', 'loginctl', 'update-alternatives', 'update-desktop-database', 'unshare', 'apparmor_status', 'apparmor_parser'];
const UNIT_SRC = join(installerDir, 'linux', 'meshtray-helper.service');

interface World {
  root: string;
  stubs: string;
  calls: string;
  scripts: Record<'afterInstall' | 'beforeRemove' | 'afterRemove', string>;
}

function makeWorld(o: { systemd?: boolean; helperMode?: number } = {}): World {
  const base = mkdtempSync(join(tmpdir(), 'mt-installer-'));
  const root = join(base, 'root');
  const stubs = join(base, 'stubs');
  const calls = join(base, 'calls.log');
  mkdirSync(stubs, { recursive: true });
  writeFileSync(calls, '');
  for (const name of STUBS) {
    // Each stub records "name args…"; behaviour comes from MT_* variables the test sets.
    const body = [
      '#!/bin/sh',
      `printf '%s\\n' "${name} $*" >> "$MT_CALLS"`,
      name === 'systemctl' ? 'if [ "$1" = is-active ]; then exit "${MT_ACTIVE:-3}"; fi' : '',
      name === 'getent' ? 'if [ "$1" = group ]; then [ -n "${MT_GROUP_EXISTS:-}" ] && { echo "meshtray:x:998:"; exit 0; }; exit 2; fi' : '',
      name === 'getent' ? 'if [ "$1" = passwd ] && [ "$2" = 1001 ]; then echo "carol:x:1001:1001::/home/carol:/bin/sh"; exit 0; fi; exit 2' : '',
      name === 'loginctl' ? 'printf "%b" "${MT_SESSIONS:-}"' : '',
      // AppArmor off unless MT_APPARMOR is set (as on Debian without AppArmor).
      name === 'apparmor_status' ? '[ -n "${MT_APPARMOR:-}" ] || exit 1' : '',
      'exit 0',
    ].join('\n');
    writeFileSync(join(stubs, name), body + '\n');
    chmodSync(join(stubs, name), 0o755);
  }
  const helper = join(root, 'opt/Meshtray/resources/helper/meshtray-helper');
  mkdirSync(dirname(helper), { recursive: true });
  writeFileSync(helper, '#!/bin/sh\n');
  chmodSync(helper, o.helperMode ?? 0o755);
  copyFileSync(UNIT_SRC, join(root, 'opt/Meshtray/resources/helper/meshtray-helper.service'));
  writeFileSync(join(root, 'opt/Meshtray/chrome-sandbox'), '');
  writeFileSync(join(root, 'opt/Meshtray/resources/apparmor-profile'), 'abi <abi/4.0>,\nprofile meshtray /opt/Meshtray/meshtray flags=(unconfined) { userns, }\n');
  mkdirSync(join(root, 'etc/apparmor.d'), { recursive: true });
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  mkdirSync(join(root, 'usr/share/applications'), { recursive: true });
  if (o.systemd ?? true) mkdirSync(join(root, 'run/systemd/system'), { recursive: true });
  // The scripts as electron-builder writes them into the package (macros expanded; an unknown
  // ${name} would make packaging fail, so expansion is part of what is tested).
  const expand = (f: string): string => {
    const out = join(base, f);
    writeFileSync(out, expandFpmTemplate(readFileSync(join(installerDir, 'linux', f), 'utf8'), FPM_VARS));
    return out;
  };
  return { root, stubs, calls, scripts: { afterInstall: expand('after-install.sh'), beforeRemove: expand('before-remove.sh'), afterRemove: expand('after-remove.sh') } };
}

function run(w: World, script: keyof World['scripts'], args: string[], env: Record<string, string> = {}): { code: number; out: string; calls: string[] } {
  writeFileSync(w.calls, '');
  const r = spawnSync('sh', [w.scripts[script], ...args], {
    encoding: 'utf8',
    env: { PATH: `${w.stubs}:/usr/sbin:/usr/bin:/sbin:/bin`, MESHTRAY_INSTALL_ROOT: w.root, MT_CALLS: w.calls, LC_ALL: 'C', ...env },
  });
  return { code: r.status ?? 128, out: r.stdout + r.stderr, calls: readFileSync(w.calls, 'utf8').split('\n').filter(Boolean) };
}

const installedUnit = (w: World) => join(w.root, 'etc/systemd/system/meshtray-helper.service');
const done = (w: World) => rmSync(dirname(w.root), { recursive: true, force: true });

test('electron-builder can expand the scripts: no ${…} macro it does not know', () => {
  for (const f of ['after-install.sh', 'before-remove.sh', 'after-remove.sh']) {
    const text = readFileSync(join(installerDir, 'linux', f), 'utf8');
    const expanded = expandFpmTemplate(text, FPM_VARS);
    assert.doesNotMatch(expanded, /\$\{(executable|sanitizedProductName)\}/, f);
    assert.equal(spawnSync('sh', ['-n', '-c', expanded]).status, 0, `${f} parses`);
  }
  assert.throws(() => expandFpmTemplate('echo ${HOME}', FPM_VARS), /Macro HOME is not defined/);
});

test('deb postinst via sudo: group created, sudo user added, unit installed 0644, enabled and (re)started', () => {
  const w = makeWorld();
  try {
    const r = run(w, 'afterInstall', ['configure', ''], { SUDO_USER: 'alice' });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.calls, [
      'update-alternatives --install /usr/bin/meshtray meshtray /opt/Meshtray/meshtray 100',
      'unshare --user true',
      `update-desktop-database ${w.root}/usr/share/applications`,
      'apparmor_status --enabled',
      'getent group meshtray',
      'groupadd --system meshtray',
      'usermod -a -G meshtray alice',
      'systemctl daemon-reload',
      'systemctl enable meshtray-helper.service',
      'systemctl restart meshtray-helper.service',
    ]);
    assert.equal(readFileSync(installedUnit(w), 'utf8'), readFileSync(UNIT_SRC, 'utf8'));
    assert.equal(statSync(installedUnit(w)).mode & 0o777, 0o644);
    assert.equal(statSync(join(w.root, 'opt/Meshtray/chrome-sandbox')).mode & 0o7777, 0o755, 'user namespaces work: no SUID sandbox');
    assert.match(r.out, /added alice to the meshtray group; log out and back in/);
  } finally {
    done(w);
  }
});

test('rpm %post from a software centre: existing group kept, the graphical session user added', () => {
  const w = makeWorld();
  try {
    // loginctl list-sessions --no-legend: SESSION UID USER SEAT TTY (a remote ssh session has no seat).
    const sessions = '  7 1002 dave - pts/0\\n  2 1000 bob seat0 tty2\\n';
    const r = run(w, 'afterInstall', ['1'], { MT_GROUP_EXISTS: '1', MT_SESSIONS: sessions });
    assert.equal(r.code, 0, r.out);
    assert.ok(!r.calls.some((c) => c.startsWith('groupadd')), 'group exists: not recreated');
    assert.ok(r.calls.includes('usermod -a -G meshtray bob'), r.calls.join('\n'));
    assert.ok(!r.calls.some((c) => c.includes('dave')));
    const pk = run(w, 'afterInstall', ['1'], { MT_GROUP_EXISTS: '1', PKEXEC_UID: '1001' });
    assert.ok(pk.calls.includes('usermod -a -G meshtray carol'), pk.calls.join('\n'));
  } finally {
    done(w);
  }
});

test('post-install without systemd (container, chroot): unit installed, no systemctl, the manual command printed', () => {
  const w = makeWorld({ systemd: false });
  try {
    const r = run(w, 'afterInstall', ['configure'], { SUDO_USER: 'alice' });
    assert.equal(r.code, 0, r.out);
    assert.ok(!r.calls.some((c) => c.startsWith('systemctl')), r.calls.join('\n'));
    assert.ok(existsSync(installedUnit(w)));
    assert.match(r.out, /systemd is not running; start the helper with: \/opt\/Meshtray\/resources\/helper\/meshtray-helper --socket \/run\/meshtray\/helper\.sock/);
  } finally {
    done(w);
  }
});

test('post-install refuses a helper others could replace: nothing installed, no service started', () => {
  const w = makeWorld({ helperMode: 0o777 });
  try {
    const r = run(w, 'afterInstall', ['configure'], { SUDO_USER: 'alice' });
    assert.equal(r.code, 1);
    assert.match(r.out, /not root-owned or is writable by others; not installing the helper/);
    assert.ok(!existsSync(installedUnit(w)));
    assert.ok(!r.calls.some((c) => c.startsWith('systemctl') || c.startsWith('groupadd') || c.startsWith('usermod')), r.calls.join('\n'));
  } finally {
    done(w);
  }
});

test('before-remove: stops a running helper (it restores on SIGTERM); a crashed one with state is started once to repair; upgrade does nothing', () => {
  const w = makeWorld();
  try {
    assert.deepEqual(run(w, 'beforeRemove', ['upgrade', '0.2.0']).calls, []);
    assert.deepEqual(run(w, 'beforeRemove', ['1']).calls, [], 'rpm %preun on upgrade');
    assert.deepEqual(run(w, 'beforeRemove', ['remove'], { MT_ACTIVE: '0' }).calls, [
      'systemctl is-active --quiet meshtray-helper.service',
      'systemctl stop meshtray-helper.service',
      'systemctl disable meshtray-helper.service',
    ]);
    // Not running, nothing left behind: just disable.
    assert.deepEqual(run(w, 'beforeRemove', ['0']).calls, ['systemctl is-active --quiet meshtray-helper.service', 'systemctl disable meshtray-helper.service']);
    // Not running, state file left by a crash: start (repairs at start), stop (restores), disable.
    mkdirSync(join(w.root, 'var/lib/meshtray/helper'), { recursive: true });
    writeFileSync(join(w.root, 'var/lib/meshtray/helper/router-state.json'), '{"rules":[1]}');
    assert.deepEqual(run(w, 'beforeRemove', ['remove']).calls, [
      'systemctl is-active --quiet meshtray-helper.service',
      'systemctl start meshtray-helper.service',
      'systemctl stop meshtray-helper.service',
      'systemctl disable meshtray-helper.service',
    ]);
  } finally {
    done(w);
  }
});

test('after-remove: upgrade keeps everything; remove stops, disables, deletes the unit; purge also state and group', () => {
  const w = makeWorld();
  try {
    assert.equal(run(w, 'afterInstall', ['configure'], { SUDO_USER: 'alice' }).code, 0);
    mkdirSync(join(w.root, 'var/lib/meshtray/helper'), { recursive: true });
    writeFileSync(join(w.root, 'var/lib/meshtray/helper/router-state.json'), '{}');
    writeFileSync(join(w.root, 'var/lib/meshtray/meshtrayd.state'), 'a meshtrayd node key');

    for (const upgradeArgs of [['upgrade', '0.2.0'], ['1']]) {
      assert.deepEqual(run(w, 'afterRemove', upgradeArgs).calls, [], upgradeArgs.join(' '));
      assert.ok(existsSync(installedUnit(w)), 'upgrade keeps the unit');
    }
    const rm = run(w, 'afterRemove', ['remove'], { MT_GROUP_EXISTS: '1' });
    assert.equal(rm.code, 0, rm.out);
    assert.deepEqual(rm.calls, [
      'update-alternatives --remove meshtray /opt/Meshtray/meshtray',
      'systemctl stop meshtray-helper.service',
      'systemctl disable meshtray-helper.service',
      'systemctl daemon-reload',
      'systemctl reset-failed meshtray-helper.service',
    ]);
    assert.ok(!existsSync(installedUnit(w)), 'unit removed');
    assert.ok(existsSync(join(w.root, 'var/lib/meshtray/helper/router-state.json')), 'remove keeps state (a reinstall repairs from it)');

    const purge = run(w, 'afterRemove', ['purge'], { MT_GROUP_EXISTS: '1' });
    assert.equal(purge.code, 0, purge.out);
    assert.ok(purge.calls.includes('groupdel meshtray'), purge.calls.join('\n'));
    assert.equal(readFileSync(join(w.root, 'var/lib/meshtray/meshtrayd.state'), 'utf8'), 'a meshtrayd node key', 'meshtrayd\'s state is not the package\'s to purge');
    assert.ok(!existsSync(join(w.root, 'var/lib/meshtray/helper')), 'purge removes the helper\'s state directory');
  } finally {
    done(w);
  }
});

test('AppArmor (Ubuntu 24+): the bundled profile is dry-run checked, installed and loaded; removal unloads and deletes it', () => {
  const w = makeWorld();
  try {
    const r = run(w, 'afterInstall', ['configure'], { SUDO_USER: 'alice', MT_APPARMOR: '1' });
    assert.equal(r.code, 0, r.out);
    const profile = join(w.root, 'etc/apparmor.d/meshtray');
    const i = r.calls.indexOf('apparmor_status --enabled');
    assert.deepEqual(r.calls.slice(i, i + 3), [
      'apparmor_status --enabled',
      `apparmor_parser --skip-kernel-load --debug ${w.root}/opt/Meshtray/resources/apparmor-profile`,
      `apparmor_parser --replace --write-cache --skip-read-cache ${profile}`,
    ]);
    assert.equal(readFileSync(profile, 'utf8'), readFileSync(join(w.root, 'opt/Meshtray/resources/apparmor-profile'), 'utf8'));
    const rm = run(w, 'afterRemove', ['remove']);
    assert.ok(rm.calls.includes(`apparmor_parser --remove ${profile}`), rm.calls.join('\n'));
    assert.ok(!existsSync(profile));
  } finally {
    done(w);
  }
});
