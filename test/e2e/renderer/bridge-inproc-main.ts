// The renderer bridge with the engine hosted IN this process (main/app/engine-host
// startInProcessEngine), as the desktop app runs it when there is no meshtrayd: meant to run as an
// ordinary user, with the privileged helper (main/app/helper) doing the OS work as root.
// Usage: node bridge-inproc-main.js --state-dir DIR [--helper-socket PATH] [--tun meshtray0]
// The server is main/web's (RendererBridge = WebServer with test defaults); <url> carries the
// run's token in its fragment. Prints "bridge <url>" once listening, and "open <url>" each time the app would open the system
// browser (the test drives that part). Engine log lines go to stderr. Exits on SIGTERM/SIGINT after
// stopping the engine (routes and DNS restored through the helper).
import { LineLogger } from '../../../main/engine/log/logger.js';
import { openStateStore } from '../../../main/engine/state/open-state-store.js';
import { startInProcessEngine } from '../../../main/app/engine-host/in-process-engine.js';
import { RendererBridge } from './bridge-server.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const stateDir = arg('--state-dir');
if (!stateDir) {
  process.stderr.write('bridge-inproc-main: --state-dir is required\n');
  process.exit(2);
}
const helperSocketPath = arg('--helper-socket');
const log = new LineLogger({ level: 'info' });
const inproc = await startInProcessEngine({
  store: openStateStore({ statedir: stateDir }),
  log: log.child('engine'),
  version: '0.1.0',
  helperSocketPath,
  noHelperReason: 'no --helper-socket was given',
  ...(arg('--tun') ? { tunName: arg('--tun')! } : {}),
});
const bridge = new RendererBridge({
  engine: inproc.engine,
  host: { mode: 'in-process', detail: helperSocketPath ? `helper ${helperSocketPath}` : 'no helper' },
  opener: { openExternal: async (url) => void process.stdout.write(`open ${url}\n`) },
  log: log.child('app'),
});
await bridge.start();
process.stdout.write(`bridge ${bridge.url}\n`);
process.stdout.write(`carries-traffic ${inproc.carriesTraffic}\n`);
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await bridge.stop().catch(() => undefined);
    await inproc.stop().catch((e: unknown) => log.error('stopping the engine failed', { err: e instanceof Error ? e.message : String(e) }));
    process.exit(0);
  })();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
