// The CLI as a user runs it, against a fake backend behind the REAL LocalAPI server on a temporary
// unix socket: argv in; exit code, stdout and stderr out. Removed when the test ends.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { runCli } from '../../../main/cli/cli.js';
import { LocalApiServer } from '../../../main/engine/localapi/server.js';
import { memoryLogger } from '../../../main/engine/log/logger.js';
import type { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function cliAgainst(t: TestContext, backend: FakeLocalApiBackend): Promise<(args: string[]) => Promise<CliRun>> {
  const dir = await mkdtemp(join(tmpdir(), 'meshtray-cli-'));
  const socket = join(dir, 's.sock');
  const server = new LocalApiServer({ socketPath: socket, backend, logger: memoryLogger().logger });
  await server.listen();
  t.after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return async (args) => {
    let out = '';
    let err = '';
    const code = await runCli([`--socket=${socket}`, ...args], { out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  };
}
