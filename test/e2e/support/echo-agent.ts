// A stand-in agent for ns-agent.test.ts: reports the config it received, its own argv, and whether
// the config is still in its environment after reading; then waits for stdin to close.
import { readFileSync } from 'node:fs';
import { AGENT_CONFIG_ENV, readAgentConfig } from './agent-config.js';

const config = readAgentConfig<{ authKey: string }>();
const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
emit({ event: 'config', config, argv: process.argv, pid: process.pid, envAfterRead: process.env[AGENT_CONFIG_ENV] ?? null, cmdline: readFileSync('/proc/self/cmdline', 'utf8') });
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
