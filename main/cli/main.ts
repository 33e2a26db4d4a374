// `meshtray` entry point (bin/meshtray.js imports the compiled file).
import { runCli } from './cli.js';

const code = await runCli(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
});
process.exitCode = code;
