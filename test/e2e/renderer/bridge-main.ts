// The renderer bridge as its own process, so the app side can run where the engine runs (inside a
// lab host's namespace, like an app next to its daemon on one machine).
// Usage: node bridge-main.js --socket <meshtrayd socket>
// The server is main/web's (RendererBridge = WebServer with test defaults); <url> carries the
// run's token in its fragment. Prints "bridge <url>" once listening, and "open <url>" each time the app would open the system
// browser (the test drives that part). Exits on SIGTERM.
import { LocalClient } from '../../../main/client/localapi-client.js';
import { RendererBridge } from './bridge-server.js';
import { TestLogger } from './support.js';

const i = process.argv.indexOf('--socket');
const socketPath = i > 0 ? process.argv[i + 1] : undefined;
if (!socketPath) {
  process.stderr.write('bridge-main: --socket is required\n');
  process.exit(2);
}
const log = new TestLogger();
const bridge = new RendererBridge({
  engine: new LocalClient({ socketPath }),
  opener: { openExternal: async (url) => void process.stdout.write(`open ${url}\n`) },
  log,
});
await bridge.start();
process.stdout.write(`bridge ${bridge.url}\n`);
const stop = (): void => {
  void bridge.stop().finally(() => {
    process.stderr.write(log.lines.slice(-20).join('\n') + '\n');
    process.exit(0);
  });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
