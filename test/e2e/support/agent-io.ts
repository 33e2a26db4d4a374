// The agent side of the lab-agent protocol driven by NsAgent (ns-agent.ts): JSON event lines on
// stdout, JSON command lines on stdin, stdin EOF = clean up and exit. One place for the framing so
// every agent answers a command the same way: its reply event, or {"event":"error","where":cmd}.
import { createInterface } from 'node:readline';

/** One JSON event line on stdout (what NsAgent reads). */
export const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');

export interface AgentCommand {
  cmd: string;
  [k: string]: unknown;
}

/** A command handler returns the reply event (emitted as is); a throw becomes an error event. */
export type CommandHandlers = Record<string, (c: AgentCommand) => Promise<Record<string, unknown>>>;

/**
 * Serves commands from stdin until EOF, then runs `onEnd` and exits 0. Commands run concurrently
 * (a slow `set` does not hold up a `metrics`); an unknown or malformed command is an error event.
 */
export function serveCommands(handlers: CommandHandlers, onEnd: () => Promise<void>): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    void (async () => {
      let c: AgentCommand;
      try {
        c = JSON.parse(line) as AgentCommand;
        if (typeof c?.cmd !== 'string') throw new Error('no cmd');
      } catch {
        return emit({ event: 'error', where: 'stdin', error: `bad command ${line}` });
      }
      const h = handlers[c.cmd];
      if (!h) return emit({ event: 'error', where: c.cmd, error: `unknown command ${c.cmd}` });
      try {
        emit(await h(c));
      } catch (e) {
        emit({ event: 'error', where: c.cmd, error: e instanceof Error ? e.message : String(e), code: (e as { code?: string }).code });
      }
    })();
  });
  rl.on('close', () => {
    void onEnd().then(
      () => process.exit(0),
      (e: unknown) => {
        emit({ event: 'error', where: 'exit', error: String(e) });
        process.exit(1);
      },
    );
  });
}
