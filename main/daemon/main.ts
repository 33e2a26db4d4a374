// `meshtrayd` entry point (bin/meshtrayd.js imports the compiled file).
import { parseDaemonFlags } from './flags.js';
import { startDaemon } from './daemon.js';
import { packageVersion } from './version.js';

const parsed = parseDaemonFlags(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
});
if (!parsed.ok) {
  process.exit(parsed.exitCode);
}

try {
  const d = await startDaemon(parsed.flags, packageVersion());
  // Keep the process alive until a signal: the socket server holds the event loop.
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`meshtrayd: got ${sig}, shutting down\n`);
    void d.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
} catch (e) {
  process.stderr.write(`meshtrayd: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
