// `meshtray-helper`: the privileged helper process (installed as a systemd service / LaunchDaemon /
// Windows service by the packages). Flags: --socket PATH --state-file PATH [--allow-uid N ...]
import { newOSRouter } from '../../engine/router/index.js';
import { LineLogger } from '../../engine/log/logger.js';
import { HelperServer } from './helper-server.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const socketPath = arg('--socket') ?? '/run/meshtray/helper.sock';
const stateFile = arg('--state-file') ?? '/var/lib/meshtray/helper-router-state.json';
const allowUids = process.argv.flatMap((a, i) => (a === '--allow-uid' && process.argv[i + 1] ? [Number(process.argv[i + 1])] : [])).filter((n) => Number.isInteger(n) && n > 0);

const log = new LineLogger({ level: 'info' });
const router = newOSRouter({ stateFile, logger: log.child('router') });
// A killed predecessor may have left routes behind: put the OS back first.
await router.repair().catch((e: unknown) => log.warn('helper: repair failed', { err: e instanceof Error ? e.message : String(e) }));
const server = new HelperServer({ socketPath, router, log: log.child('helper'), allowUids });
await server.listen();
process.stdout.write(`helper listening ${socketPath}\n`);
const stop = (): void => {
  void (async () => {
    await server.close();
    // Leaving the tunnel's routes without their owner would strand traffic: restore on the way out.
    await router.restore().catch(() => undefined);
    process.exit(0);
  })();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
