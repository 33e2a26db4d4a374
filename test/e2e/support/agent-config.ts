// How a lab agent receives its config: JSON in an environment variable (see ns-agent.ts for why
// not argv). Read once and removed, so nothing the agent spawns inherits the pre-auth key.
export const AGENT_CONFIG_ENV = 'MESHTRAY_AGENT_CONFIG';

export function readAgentConfig<T>(): T {
  const raw = process.env[AGENT_CONFIG_ENV];
  if (!raw) throw new Error(`${AGENT_CONFIG_ENV} is not set: start this agent with NsAgent.start (test/e2e/support/ns-agent.ts)`);
  delete process.env[AGENT_CONFIG_ENV];
  return JSON.parse(raw) as T;
}
