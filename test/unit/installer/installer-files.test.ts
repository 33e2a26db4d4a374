// The installers' service definitions agree with what electron-builder ships and with what the app
// connects to: the systemd unit (parsed, and checked by systemd-analyze against a root holding the
// shipped layout), the LaunchDaemon plist (parsed XML) and the pkg scripts, the NSIS include.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { builderConfig, installerDir, parsePlist, parseUnit, resourcePathOf, root, splitExecStart, type PlistValue } from './installer-support.js';
import { helperSocketPath } from '../../../main/app/helper/helper-paths.js';

const unitPath = join(installerDir, 'linux', 'meshtray-helper.service');
const unit = parseUnit(readFileSync(unitPath, 'utf8'));
const one = (section: string, key: string): string => {
  const v = unit[section]?.[key];
  assert.ok(v && v.length === 1, `${section}.${key} set exactly once`);
  return v[0]!;
};
/** The app's helper socket on Linux (what main/app/electron-main.ts connects to). */
const appSocket = helperSocketPath('linux');

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

test('systemd unit: ExecStart is the shipped helper with the socket the app uses; hardened as promised', () => {
  const argv = splitExecStart(one('Service', 'ExecStart'));
  // /opt/<productName>/resources/<where extraResources puts dist/helper/meshtray-helper>
  const shipped = resourcePathOf('linux', 'dist/helper/meshtray-helper');
  assert.ok(shipped, 'dist/helper/meshtray-helper is in linux extraResources');
  assert.equal(argv[0], join('/opt', builderConfig().productName as string, 'resources', shipped));
  assert.equal(flag(argv, '--socket'), appSocket, 'the socket the app connects to');
  assert.equal(flag(argv, '--socket'), '/run/meshtray/helper.sock');
  assert.equal(dirname(flag(argv, '--state-file')!), join('/var/lib', one('Service', 'StateDirectory')), 'state in the StateDirectory');
  assert.equal(flag(argv, '--socket-group'), 'meshtray');
  // The unit itself ships beside the executable, where after-install.sh reads it.
  assert.equal(resourcePathOf('linux', 'assets/installer/linux/meshtray-helper.service'), 'helper/meshtray-helper.service');
  assert.match(readFileSync(join(installerDir, 'linux', 'after-install.sh'), 'utf8'), /UNIT_SRC="\$APP_DIR\/resources\/helper\/meshtray-helper\.service"/);

  assert.equal(one('Service', 'RuntimeDirectory'), 'meshtray');
  assert.equal(one('Service', 'StateDirectory'), 'meshtray/helper', 'not /var/lib/meshtray itself: meshtrayd\'s default statedir');
  assert.equal(one('Service', 'StateDirectoryMode'), '0700');
  assert.deepEqual(one('Service', 'CapabilityBoundingSet').split(/\s+/).sort(), ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_NET_RAW']);
  assert.equal(one('Service', 'ProtectSystem'), 'strict');
  assert.equal(one('Service', 'NoNewPrivileges'), 'yes');
  assert.equal(one('Service', 'ProtectHome'), 'yes');
  assert.equal(one('Service', 'KillSignal'), 'SIGTERM', 'SIGTERM is what makes the helper restore');
  assert.equal(unit['Service']!['User'], undefined, 'runs as root (no User=)');
  assert.equal(one('Install', 'WantedBy'), 'multi-user.target');
});

function systemdRoot(withHelper: boolean): string {
  const r = mkdtempSync(join(tmpdir(), 'mt-unit-root-'));
  const argv0 = splitExecStart(one('Service', 'ExecStart'))[0]!;
  mkdirSync(join(r, dirname(argv0)), { recursive: true });
  const pre = (unit['Service']!['ExecStartPre'] ?? []).map((v) => splitExecStart(v)[0]!);
  for (const exe of [...(withHelper ? [argv0] : []), ...pre]) {
    mkdirSync(join(r, dirname(exe)), { recursive: true });
    writeFileSync(join(r, exe), '#!/bin/sh\n');
    chmodSync(join(r, exe), 0o755);
  }
  mkdirSync(join(r, 'etc/systemd/system'), { recursive: true });
  copyFileSync(unitPath, join(r, 'etc/systemd/system/meshtray-helper.service'));
  // The targets the unit's default dependencies name, from this machine's systemd.
  mkdirSync(join(r, 'usr/lib/systemd/system'), { recursive: true });
  for (const t of ['sysinit', 'basic', 'shutdown', 'multi-user', 'network-pre', 'sockets', 'paths', 'timers', 'slices', 'local-fs', 'swap']) {
    const src = `/usr/lib/systemd/system/${t}.target`;
    if (existsSync(src)) copyFileSync(src, join(r, `usr/lib/systemd/system/${t}.target`));
  }
  return r;
}

const noAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0 ? false : 'systemd-analyze is not installed';
if (noAnalyze && process.env.CI === 'true') throw new Error(`the systemd unit checks must run under CI=true: ${noAnalyze}`);
if (noAnalyze) process.stderr.write(`\n!!! SKIPPING the systemd-analyze checks: ${noAnalyze} !!!\n\n`);

test('systemd-analyze verify: no warnings with the helper in place; a missing helper is reported', { skip: noAnalyze }, () => {
  const r = systemdRoot(true);
  try {
    const ok = spawnSync('systemd-analyze', ['verify', `--root=${r}`, 'meshtray-helper.service'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stderr.trim(), '', 'no unknown keys, no bad values');
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
  const r2 = systemdRoot(false);
  try {
    const bad = spawnSync('systemd-analyze', ['verify', `--root=${r2}`, 'meshtray-helper.service'], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /is not executable/);
  } finally {
    rmSync(r2, { recursive: true, force: true });
  }
});

test('systemd-analyze security: the unit rates OK (exposure below 4.0)', { skip: noAnalyze }, () => {
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', unitPath], { encoding: 'utf8' });
  const m = /Overall exposure level for meshtray-helper\.service: ([\d.]+) (\w+)/.exec(r.stdout);
  assert.ok(m, r.stdout.slice(-400) + r.stderr);
  assert.ok(Number(m[1]) < 4.0, `exposure ${m[1]} ${m[2]}`);
  assert.doesNotMatch(r.stderr, /Unknown key|Failed to parse/);
});

test('LaunchDaemon plist: valid property list, the shipped helper as root, kept alive; the pkg scripts install it', () => {
  const plistFile = join(installerDir, 'mac', 'org.meshtray.helper.plist');
  const p = parsePlist(readFileSync(plistFile, 'utf8')) as Record<string, PlistValue>;
  assert.equal(p['Label'], 'org.meshtray.helper');
  const args = p['ProgramArguments'] as string[];
  const shipped = resourcePathOf('mac', 'dist/helper/meshtray-helper');
  assert.ok(shipped);
  assert.equal(args[0], join('/Applications', `${builderConfig().productName as string}.app`, 'Contents', 'Resources', shipped));
  assert.equal(builderConfig().pkg.installLocation, '/Applications');
  assert.equal(flag(args, '--socket'), helperSocketPath('darwin'), 'the socket the app connects to on macOS');
  assert.equal(flag(args, '--socket-group'), 'meshtray');
  assert.ok(flag(args, '--state-file')!.startsWith('/Library/Application Support/Meshtray/'));
  assert.equal(p['UserName'], 'root');
  assert.equal(p['RunAtLoad'], true);
  assert.equal(p['KeepAlive'], true);
  assert.equal(p['Umask'], 0o077);

  // postinstall copies the plist electron-builder ships (mac extraResources) and bootstraps it.
  const plistInBundle = resourcePathOf('mac', 'assets/installer/mac/org.meshtray.helper.plist');
  assert.equal(plistInBundle, 'helper/org.meshtray.helper.plist');
  const post = readFileSync(join(root, builderConfig().directories.buildResources as string, builderConfig().pkg.scripts as string, 'postinstall'), 'utf8');
  assert.match(post, /SRC="\$APP\/Contents\/Resources\/helper\/org\.meshtray\.helper\.plist"/);
  assert.match(post, /HELPER="\$APP\/Contents\/Resources\/helper\/meshtray-helper"/);
  assert.match(post, /PLIST="\/Library\/LaunchDaemons\/org\.meshtray\.helper\.plist"/);
  assert.match(post, /launchctl bootstrap system "\$PLIST"/);
  assert.match(post, /stat -f %u "\$APP"/, 'refuses a bundle not owned by root');
  const pre = readFileSync(join(installerDir, 'mac', 'pkg-scripts', 'preinstall'), 'utf8');
  assert.match(pre, /launchctl bootout system "\$PLIST"/);
  for (const f of ['preinstall', 'postinstall']) {
    const s = spawnSync('sh', ['-n', join(installerDir, 'mac', 'pkg-scripts', f)], { encoding: 'utf8' });
    assert.equal(s.status, 0, `${f}: ${s.stderr}`);
  }
});

test('parsePlist rejects what plutil would', () => {
  assert.throws(() => parsePlist('<plist version="1.0"><dict><key>a</key></dict></plist>'), /expected a value/);
  assert.throws(() => parsePlist('<plist version="1.0"><dict><key>a</key><string>x</string><key>a</key><true/></dict></plist>'), /duplicate key/);
  assert.throws(() => parsePlist('<plist version="1.0"><dict><string>x</string></dict></plist>'), /start with <key>/);
  assert.throws(() => parsePlist('<plist version="1.0"><array><integer>1.5</integer></array></plist>'), /bad integer/);
  assert.deepEqual(parsePlist('<plist version="1.0"><dict><key>k</key><array><string>a &amp; b</string><false/><integer>7</integer></array></dict></plist>'), { k: ['a & b', false, 7] });
});

test('NSIS include: registers the shipped helper.exe as a LocalSystem service, removes it on uninstall', () => {
  const nsh = readFileSync(join(root, builderConfig().nsis.include as string), 'utf8');
  const macro = (name: string): string => {
    const m = new RegExp(`!macro ${name}\\n([\\s\\S]*?)!macroend`).exec(nsh);
    assert.ok(m, `!macro ${name}`);
    return m[1]!;
  };
  const defines = Object.fromEntries([...nsh.matchAll(/^!define (\w+) "([^"]*)"/gm)].map((m) => [m[1]!, m[2]!]));
  const expand = (s: string): string => s.replace(/\$\{(\w+)\}/g, (_m, n: string) => defines[n] ?? `\${${n}}`);
  const shipped = resourcePathOf('win', 'dist/helper/meshtray-helper.exe');
  assert.ok(shipped);
  assert.equal(expand('${MESHTRAY_HELPER_EXE}'), `$INSTDIR\\resources\\${shipped.replace(/\//g, '\\')}`);

  const install = expand(macro('customInstall'));
  const create = /sc\.exe create MeshtrayHelper binPath= "\\"(.+?)\\"(.*?)" (start=.*)'/.exec(install);
  assert.ok(create, install);
  assert.equal(create[1], `$INSTDIR\\resources\\helper\\meshtray-helper.exe`);
  assert.match(create[3]!, /start= auto/);
  assert.match(create[3]!, /obj= LocalSystem/);
  assert.ok(create[2]!.includes(`--socket ${helperSocketPath('win32')}`), `the pipe the app connects to on Windows: ${create[2]}`);
  assert.ok(install.indexOf('sc.exe delete MeshtrayHelper') < install.indexOf('sc.exe create'), 'an old registration is removed first');
  assert.ok(install.indexOf('sc.exe create') < install.indexOf('sc.exe start MeshtrayHelper'));
  const uninstall = expand(macro('customUnInstall'));
  assert.ok(uninstall.indexOf('sc.exe stop MeshtrayHelper') >= 0 && uninstall.indexOf('sc.exe stop') < uninstall.indexOf('sc.exe delete MeshtrayHelper'));
  // Every nsExec line's single-quoted command is closed on its line.
  for (const l of nsh.split('\n').filter((x) => x.includes('nsExec::'))) assert.equal((l.match(/'/g) ?? []).length, 2, l);
});
