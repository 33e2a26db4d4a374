// `meshtray-helper`: the privileged helper process (installed as a systemd service / LaunchDaemon /
// Windows service by the packages).
// Flags: --socket PATH --state-file PATH [--allow-uid N ...] [--socket-group NAME] [--resolv-conf PATH]
// Who may connect: root, the --allow-uid users, and members of --socket-group (README threat model).
// The router's state file and the resolv.conf backup live in the state file's directory, so a
// helper killed with -9 is repaired by the next start.
import { dirname, join } from 'node:path';
import { newOSRouter } from '../../engine/router/index.js';
import { nodeCommandRunner } from '../../engine/router/node-runner.js';
import { LineLogger } from '../../engine/log/logger.js';
import { DirectResolvConf } from '../../engine/dns/resolv-conf.js';
import { nodeResolvFS } from '../../engine/dns/node-resolv-fs.js';
import { HelperServer, type HelperTun } from './helper-server.js';
import { loadNativeFdApi } from './native-fds.js';
import { nativeHelperTun } from './native-helper-tun.js';
import { socketGroup } from './group-membership.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const socketPath = arg('--socket') ?? '/run/meshtray/helper.sock';
const stateFile = arg('--state-file') ?? '/var/lib/meshtray/helper-router-state.json';
const allowUids = process.argv.flatMap((a, i) => (a === '--allow-uid' && process.argv[i + 1] ? [Number(process.argv[i + 1])] : [])).filter((n) => Number.isInteger(n) && n > 0);

const groupArg = arg('--socket-group');
const group = groupArg ? socketGroup(groupArg) : undefined;

const log = new LineLogger({ level: 'info' });
const router = newOSRouter({ stateFile, logger: log.child('router') });
const dns = new DirectResolvConf({ fs: nodeResolvFS, path: arg('--resolv-conf') ?? '/etc/resolv.conf', backupPath: join(dirname(stateFile), 'resolv.conf.pre-meshtray') });
let tun: HelperTun | undefined;
try {
  tun = nativeHelperTun(loadNativeFdApi(), nodeCommandRunner());
} catch (e) {
  // Routes and DNS still work; the app then runs control-plane only and says why.
  log.warn('helper: no native addon; tun.open will be refused', { err: e instanceof Error ? e.message : String(e) });
}
// A killed predecessor may have left routes or our resolv.conf behind: put the OS back first.
await router.repair().catch((e: unknown) => log.warn('helper: router repair failed', { err: e instanceof Error ? e.message : String(e) }));
await dns.repair().then(
  (r) => r !== 'nothing' && log.info('helper: repaired resolv.conf', { result: r }),
  (e: unknown) => log.warn('helper: resolv.conf repair failed', { err: e instanceof Error ? e.message : String(e) }),
);
const server = new HelperServer({ socketPath, router, dns, ...(tun ? { tun } : {}), ...(group ? { socketGroup: group } : {}), log: log.child('helper'), allowUids });
await server.listen();
process.stdout.write(`helper listening ${socketPath}\n`);
const stop = (): void => {
  void (async () => {
    await server.close();
    await server.idle().catch(() => undefined);
    // Leaving the tunnel's routes or our resolv.conf without their owner would strand the host.
    await server.restoreAll();
    process.exit(0);
  })();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
