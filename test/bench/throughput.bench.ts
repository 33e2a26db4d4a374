// Throughput benchmark (issue 5, "Speed"): iperf3 TCP over the tailnet between lab namespaces,
// Meshtray ↔ tailscaled and tailscaled ↔ tailscaled in the same run and the same topology
// (public hosts on one bridge, direct path). Prints Gbit/s, CPU seconds per GB of each daemon
// (utime+stime from /proc/PID/stat), and Meshtray/tailscaled ratios.
// Run (root): npm run bench:throughput   [-- --seconds=10] [--repeat=1] [--dirs=send,recv]
// --repeat runs every measurement N times in the same lab (interleaved Meshtray/tailscaled, so both
// see the same background load) and prints min–max of the ratios; --dirs limits the directions.
//
// Both sides share this machine's cores with iperf3 and each other, so absolute numbers are
// lower than on two hosts; the ratio is the figure of merit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../lab/lab.js';
import { run, startAgent, tailscaleIPv4, type MagicAgent } from '../e2e/magicsock/agent-harness.js';
import { peerByHostName } from '../lab/peer-output.js';

const seconds = Number(process.argv.find((a) => a.startsWith('--seconds='))?.split('=')[1] ?? 10);
const repeat = Math.max(1, Number(process.argv.find((a) => a.startsWith('--repeat='))?.split('=')[1] ?? 1));
const dirs = (process.argv.find((a) => a.startsWith('--dirs='))?.split('=')[1] ?? 'send,recv')
  .split(',').filter((d): d is 'send' | 'recv' => d === 'send' || d === 'recv');
const CLK_TCK = 100; // getconf CLK_TCK on Linux

/** utime + stime of a process and all its threads, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

interface Result { label: string; direction: string; gbps: number; bytes: number; senderCpuPerGB: number; receiverCpuPerGB: number; retransmits: number }

async function iperf(label: string, direction: 'send' | 'recv', clientNs: string, serverIp: string, senderPid: number, receiverPid: number, port: number): Promise<Result> {
  const c0 = cpuSeconds(senderPid), r0 = cpuSeconds(receiverPid);
  const args = ['iperf3', '-c', serverIp, '-p', String(port), '-t', String(seconds), '-J', ...(direction === 'recv' ? ['-R'] : [])];
  const r = await run(args, clientNs, (seconds + 30) * 1000);
  if (r.code !== 0) throw new Error(`${label}: iperf3 failed: ${r.stdout.slice(-500)} ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bytes: number; bits_per_second: number }; sum_sent: { retransmits?: number } } };
  const bytes = j.end.sum_received.bytes;
  const c1 = cpuSeconds(senderPid), r1 = cpuSeconds(receiverPid);
  // For -R the roles swap: the server side sends.
  const [sendCpu, recvCpu] = direction === 'recv' ? [r1 - r0, c1 - c0] : [c1 - c0, r1 - r0];
  return {
    label, direction, bytes,
    gbps: j.end.sum_received.bits_per_second / 1e9,
    senderCpuPerGB: sendCpu / (bytes / 1e9),
    receiverCpuPerGB: recvCpu / (bytes / 1e9),
    retransmits: j.end.sum_sent.retransmits ?? 0,
  };
}

const lab = await Lab.create({
  name: 'bench-throughput',
  derpRegions: 1,
  hosts: [{ name: 't1', nat: 'none' }, { name: 't2', nat: 'none' }, { name: 'm1', nat: 'none', peer: 'none' }],
});
let agent: MagicAgent | undefined;
try {
  const started = await startAgent(lab, 'm1');
  agent = started.agent;
  const ready = agent.events.find((e) => e.event === 'ready')!;
  const meshPid = ready.pid as number;
  const tIp = await tailscaleIPv4(lab, 't1');
  await lab.peer('t1').waitStatus('t1 sees m1', (s) => !!peerByHostName(s, 'm1'), 60_000);
  const t1Pid = lab.peer('t1').pid!;
  const t2Pid = lab.peer('t2').pid!;
  // iperf3 server on t1's tailnet address.
  const server = run(['iperf3', '-s', '-B', tIp, '-p', '5201'], lab.host('t1').ns, 10 * 60_000);
  await new Promise((r) => setTimeout(r, 1000));
  // Both clients reach t1 directly before measuring.
  await agent.pingUntilDirect(tIp, 15);
  await lab.peer('t2').ping(tIp, { count: 10, untilDirect: true });
  await run(['ping', '-c', '3', '-i', '0.2', tIp], lab.host('m1').ns);
  await run(['ping', '-c', '3', '-i', '0.2', tIp], lab.host('t2').ns);

  const results: Result[] = [];
  for (let i = 0; i < repeat; i++) {
    for (const dir of dirs) {
      results.push(await iperf('meshtray→tailscaled', dir, lab.host('m1').ns, tIp, meshPid, t1Pid, 5201));
      results.push(await iperf('tailscaled→tailscaled', dir, lab.host('t2').ns, tIp, t2Pid, t1Pid, 5201));
    }
  }
  const m = await agent.metrics();
  void server;
  const lines: string[] = [];
  lines.push(`iperf3 TCP over the tailnet, ${seconds} s per run, direct path, one 2-core machine (all daemons + iperf3 share it)`);
  lines.push('pair                      dir   Gbit/s  retr  sender CPU s/GB  receiver CPU s/GB');
  for (const r of results) {
    lines.push(`${r.label.padEnd(25)} ${r.direction.padEnd(5)} ${r.gbps.toFixed(3).padStart(6)} ${String(r.retransmits).padStart(5)}  ${r.senderCpuPerGB.toFixed(2).padStart(15)}  ${r.receiverCpuPerGB.toFixed(2).padStart(17)}`);
  }
  for (const dir of dirs) {
    const ms = results.filter((r) => r.direction === dir && r.label.startsWith('meshtray'));
    const ts = results.filter((r) => r.direction === dir && r.label.startsWith('tailscaled'));
    // Pair each Meshtray run with the tailscaled run right after it (same background load).
    const tput = ms.map((a, i) => a.gbps / ts[i]!.gbps);
    // Meshtray's own CPU is the sender's for "send" and the receiver's for "recv".
    const cpu = ms.map((a, i) => dir === 'send' ? a.senderCpuPerGB / ts[i]!.senderCpuPerGB : a.receiverCpuPerGB / ts[i]!.receiverCpuPerGB);
    const span = (v: number[]): string => {
      const lo = Math.min(...v), hi = Math.max(...v);
      return v.length === 1 ? lo.toFixed(2) : `${lo.toFixed(2)}–${hi.toFixed(2)} (median ${[...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!.toFixed(2)})`;
    };
    lines.push(`ratio ${dir === 'send' ? 'Meshtray sending  ' : 'Meshtray receiving'}: throughput ${span(tput)} (goal ≥ 1.0), CPU/GB ${span(cpu)} (goal ≤ 1.0)`);
  }
  lines.push(`Meshtray packets into JS during the run: ${m.counters.toJs.total} (disco ${m.counters.toJs.disco}, stun ${m.counters.toJs.stun}, derpSend ${m.counters.toJs.derpSend}); direct tx packets ${m.counters.direct.txPackets}, rx ${m.counters.direct.rxPackets}`);
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(`(logs: ${join(lab.dir)})\n`);
} finally {
  await agent?.stop();
  await lab.teardown();
}
