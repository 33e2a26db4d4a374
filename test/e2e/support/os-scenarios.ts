// The issue-6 scenario setups shared by the two ways a Meshtray node runs in the lab: the os agent
// (test/e2e/os/*: the engine's parts wired in a test agent) and the product (test/e2e/os-daemon/*:
// meshtrayd + the meshtray CLI). Same topology, same policies, same observers, so the two suites
// prove the same things and differ only in how the Meshtray node is driven.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Headscale } from '../../lab/headscale.js';
import type { HostInfo, HostSpec, Lab } from '../../lab/lab.js';
import { waitFor } from '../../lab/proc.js';

/** How the Meshtray node m1 runs: 'none' = no lab peer (the test starts the os agent), or meshtrayd. */
export type MeshtrayPeer = 'none' | 'meshtrayd';

/** The tailscaled exit node's public address (what the web host sees through it). */
export const EXIT_IP = '198.51.100.70';

/** A real tailscaled exit node on the internet (forwarding on, --advertise-exit-node). */
export const EXIT_HOST: HostSpec = { name: 'exit', nat: 'none', publicIp: EXIT_IP, ipForward: true, upArgs: ['--advertise-exit-node'] };

/**
 * Issue 6's scenario topology: m1 (Meshtray) behind an easy NAT, a tailscaled exit node, a tailscaled
 * subnet router `sr` for 10.20.0.0/24 with `lanhost` on that LAN, and a plain tailscaled peer t1.
 */
export function issue6Hosts(m1: MeshtrayPeer): HostSpec[] {
  return [
    { name: 'm1', nat: 'easy', peer: m1 },
    EXIT_HOST,
    { name: 'sr', nat: 'none', publicIp: '198.51.100.60', lan: { prefix: '10.20.0', hosts: ['lanhost'] }, upArgs: ['--advertise-routes=10.20.0.0/24'] },
    { name: 't1', nat: 'easy' },
  ];
}

/** tailscale's site-to-site guide: m1 routes 10.30.0.0/24 (lana), a tailscaled `sr` routes 10.20.0.0/24 (lanb), no SNAT. */
export function siteToSiteHosts(m1: MeshtrayPeer): HostSpec[] {
  return [
    { name: 'm1', nat: 'none', publicIp: '198.51.100.80', peer: m1, lan: { prefix: '10.30.0', hosts: ['lana'] } },
    { name: 'sr', nat: 'none', publicIp: '198.51.100.60', lan: { prefix: '10.20.0', hosts: ['lanb'] }, upArgs: ['--advertise-routes=10.20.0.0/24', '--snat-subnet-routes=false', '--accept-routes'] },
  ];
}

/** The site-to-site guide's policy: the tailnet, and the two LANs to each other. */
export const SITE_TO_SITE_POLICY = `{
  "acls": [
    { "action": "accept", "src": ["*"], "dst": ["*:*"] },
    { "action": "accept", "src": ["10.30.0.0/24"], "dst": ["10.20.0.0/24:*"] },
    { "action": "accept", "src": ["10.20.0.0/24"], "dst": ["10.30.0.0/24:*"] },
  ],
}`;

/** Everyone may reach port 8080 on everyone, nothing else (the packet-filter scenario). */
export const ONLY_8080_POLICY = `{ "acls": [ { "action": "accept", "src": ["*"], "dst": ["*:8080"] } ] }`;

/** Runs a Node script in a host's namespace until the test ends. */
function serveUntilEnd(t: TestContext, lab: Lab, host: string, script: string): void {
  const p = spawn('ip', ['netns', 'exec', lab.host(host).ns, process.execPath, '-e', script], { stdio: 'ignore' });
  t.after(() => p.kill('SIGKILL'));
}

/** HTTP on :80 of each host answering with the caller's address (who did the LAN packet come from). */
export function startEchoServers(t: TestContext, lab: Lab, hosts: string[]): void {
  for (const h of hosts) serveUntilEnd(t, lab, h, "require('http').createServer((q,s)=>s.end(q.socket.remoteAddress)).listen(80, '0.0.0.0')");
}

/** HTTP servers on `ports` of `host`, each answering "port N" (the packet filter's targets). */
export function startPortServers(t: TestContext, lab: Lab, host: string, ports: number[]): void {
  serveUntilEnd(t, lab, host, `for (const p of ${JSON.stringify(ports)}) require('http').createServer((q, s) => s.end('port ' + p)).listen(p)`);
}

/** `curl http://<ip><path>` from a lab host: the body, trimmed ("" when unreachable within the time). */
export async function httpFrom(lab: Lab, from: string, ip: string, path = '/', maxTimeS = 4): Promise<string> {
  return (await lab.exec(from, ['curl', '-s', '--max-time', String(maxTimeS), `http://${ip}${path}`], 10_000)).stdout.trim();
}

/** The address the web host sees for traffic from `from` (its own NAT, or the exit node in use). */
export function webSeenFrom(lab: Lab, from: string, web: HostInfo): Promise<string> {
  return httpFrom(lab, from, web.ip);
}

/** Approves a node's exit routes in Headscale (tailscale's "allow as exit node" in the admin console). */
export async function approveExitNode(hs: Headscale, name: string): Promise<void> {
  await hs.approveRoutes((await hs.nodeByName(name))!.id, ['0.0.0.0/0', '::/0']);
}

/** A short DNS query to quad-100 from a lab host (`dig +short`), trimmed. */
export async function digQuad100(lab: Lab, from: string, args: string[]): Promise<string> {
  return (await lab.exec(from, ['dig', '+short', '+time=2', '+tries=1', '@100.100.100.100', ...args], 15_000)).stdout.trim();
}

/** Waits until Headscale has m1's advertised 10.30.0.0/24, then approves both sites' routes. */
export async function approveSiteRoutes(hs: Headscale): Promise<void> {
  await waitFor('headscale sees m1 advertising', async () => ((await hs.nodeByName('m1'))?.available_routes ?? []).includes('10.30.0.0/24') || 'not yet', { timeoutMs: 30_000, intervalMs: 300 });
  await hs.approveRoutes((await hs.nodeByName('m1'))!.id, ['10.30.0.0/24']);
  await hs.approveRoutes((await hs.nodeByName('sr'))!.id, ['10.20.0.0/24']);
}

/**
 * The site-to-site promise: lana and lanb reach each other (echo servers running) and each sees
 * the other's own LAN address (no SNAT anywhere on the way). `eachTry` runs before each attempt
 * of the first direction; `diagnose` adds to the timeout's report.
 */
export async function assertSitesTalk(lab: Lab, o: { eachTry?: () => Promise<unknown>; diagnose?: () => Promise<string> } = {}): Promise<void> {
  const lana = lab.host('lana').ip;
  const lanb = lab.host('lanb').ip;
  const get = (from: string, to: string) => httpFrom(lab, from, to, '/', 3);
  await waitFor('lana reaches lanb', async () => {
    await o.eachTry?.();
    return (await get('lana', lanb)) === lana || 'not yet';
  }, { timeoutMs: 60_000, intervalMs: 1000 }).catch(async (e: unknown) => {
    if (o.diagnose) process.stderr.write((await o.diagnose()) + '\n');
    throw e;
  });
  assert.equal(await get('lana', lanb), lana, "lanb sees lana's own address");
  await waitFor('lanb reaches lana', async () => (await get('lanb', lana)) === lanb || 'not yet', { timeoutMs: 30_000, intervalMs: 500 });
  assert.equal(await get('lanb', lana), lanb, "lana sees lanb's own address");
}

/** m1 forwards (ip_forward=1) and installed no MASQUERADE (--snat-subnet-routes=false). */
export async function assertForwardsWithoutSnat(lab: Lab): Promise<void> {
  assert.doesNotMatch((await lab.exec('m1', ['iptables-save', '-t', 'nat'])).stdout, /MASQUERADE/, 'no SNAT with --snat-subnet-routes=false');
  assert.equal((await lab.exec('m1', ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1');
}
