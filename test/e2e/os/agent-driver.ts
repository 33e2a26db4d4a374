// Starts os-agent.ts (a Meshtray node with the OS integration) on a lab host through the one
// lab-agent driver (support/ns-agent.ts: events, JSON commands, error events with codes, stop).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../lab/lab.js';
import { AgentHandle, NsAgent, siblingScriptArgv, type AgentEvent } from '../support/ns-agent.js';

export type Ev = AgentEvent;

/** The os agent: `wait` is the name the os tests and the DNS bench use for waitFor. */
export class Agent extends AgentHandle {
  /** `extra`: more config for os-agent.ts, e.g. { quad100: 'local' }. */
  static start(lab: Lab, host: string, authKey: string, extra: Record<string, unknown> = {}): Agent {
    const stateDir = join(lab.dir, `${host}-state`);
    mkdirSync(stateDir, { recursive: true });
    // Outside the lab dir (torn down first) so a failure leaves the agent's log behind.
    const logDir = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'test-artifacts', 'os');
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, `${host}-agent.log`);
    writeFileSync(logFile, '');
    const config = { serverURL: lab.loginServer, authKey, hostname: host, stateDir, ...extra };
    // os-agent's stdin EOF runs `down` (routes, rules, iptables, resolv.conf): give it time.
    return new Agent(NsAgent.start(lab.host(host).ns, siblingScriptArgv(import.meta.url, 'os-agent'), config, { logFile, stopGraceMs: 15_000 }));
  }

  wait(pred: (e: Ev) => boolean, ms: number, what: string, from = 0): Promise<Ev> {
    return this.waitFor(pred, ms, what, from);
  }
  /** os-agent commands touch routes, iptables and resolv.conf: a minute by default. */
  override call(cmd: { cmd: string; [k: string]: unknown }, event: string, ms = 60_000): Promise<Ev> {
    return super.call(cmd, event, ms);
  }
}
