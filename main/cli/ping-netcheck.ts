// `meshtray ping` and `meshtray netcheck`, printed as tailscale prints them
// (cmd/tailscale/cli/ping.go runPing, netcheck.go printReport at v1.98.10).
import type { LocalClient } from '../client/localapi-client.js';
import type { ApiResponse } from '../../common/contract/api.js';
import { findPeer } from './status-format.js';

export interface PingOpts {
  c: string;
  timeoutMs: number;
  untilDirect: boolean;
  tsmp?: boolean;
  icmp?: boolean;
}

/** Go's time.Duration.String() of a value already rounded to ms (or to 0.1 ms for netcheck). */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1) return `${trim((ms * 1000).toFixed(3))}µs`;
  if (ms < 1000) return `${trim(ms.toFixed(6))}ms`;
  if (ms < 60_000) return `${trim((ms / 1000).toFixed(9))}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${trim(((ms - m * 60_000) / 1000).toFixed(9))}s`;
}
const trim = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

export async function cmdPing(
  client: LocalClient, target: string, o: PingOpts, io: { out: (s: string) => void; err: (s: string) => void },
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<number> {
  const st = await client.status();
  if (st.BackendState !== 'Running' && st.BackendState !== 'Starting') {
    io.out(`${st.BackendState === 'Stopped' ? 'Meshtray is stopped.' : `Meshtray is not running (state: ${st.BackendState}).`}\n`);
    return 1;
  }
  const num = Number(o.c);
  if (!Number.isInteger(num) || num < 0) {
    io.err(`invalid value "${o.c}" for flag -c: parse error\n`);
    return 2;
  }
  // Target → IP as tailscaleIPFromArg does: an IP as is, else a peer name from status.
  let ip = target;
  if (!/^[0-9.]+$/.test(target) && !target.includes(':')) {
    const p = findPeer(st, target);
    const v4 = p?.TailscaleIPs.find((a) => !a.includes(':')) ?? p?.TailscaleIPs[0];
    if (!v4) {
      io.err(`no such host ${JSON.stringify(target)}\n`);
      return 1;
    }
    ip = v4;
  }
  if ((st.TailscaleIPs ?? []).includes(ip)) {
    io.out(`${ip} is local Tailscale IP\n`);
    return 0;
  }
  const type = o.tsmp ? 'TSMP' : o.icmp ? 'ICMP' : 'disco';
  let n = 0;
  let anyPong = false;
  for (;;) {
    n++;
    const pr: ApiResponse<'ping'> = await client.ping({ Target: ip, Type: type, TimeoutMs: o.timeoutMs });
    if (pr.Err === 'timeout') {
      io.out(`ping ${JSON.stringify(ip)} timed out\n`);
      if (n === num) {
        if (!anyPong) { io.err('no reply\n'); return 1; }
        return 0;
      }
      continue;
    }
    if (pr.Err) {
      io.err(`${pr.Err}\n`);
      return 1;
    }
    const latency = Math.round((pr.LatencySeconds ?? 0) * 1000);
    let via = pr.Endpoint ?? '';
    if (pr.DERPRegionID) via = `DERP(${pr.DERPRegionCode ?? ''})`;
    if (!via) via = type;
    anyPong = true;
    io.out(`pong from ${pr.NodeName ?? ''} (${pr.NodeIP ?? ip}) via ${via} in ${goDuration(latency)}\n`);
    if (o.tsmp || o.icmp) return 0;
    if (pr.Endpoint && o.untilDirect) return 0;
    await sleep(1000);
    if (n === num) {
      if (!anyPong) { io.err('no reply\n'); return 1; }
      if (o.untilDirect) { io.err('direct connection not established\n'); return 1; }
      return 0;
    }
  }
}

export function formatNetcheck(r: ApiResponse<'netcheck'>): string {
  const rep = r.Report;
  const lines = ['', 'Report:'];
  lines.push(`\t* Time: ${rep.Now}`);
  lines.push(`\t* UDP: ${rep.UDP}`);
  lines.push(rep.GlobalV4 ? `\t* IPv4: yes, ${rep.GlobalV4}` : '\t* IPv4: (no addr found)');
  if (rep.GlobalV6) lines.push(`\t* IPv6: yes, ${rep.GlobalV6}`);
  else if (rep.IPv6) lines.push('\t* IPv6: (no addr found)');
  else if (rep.OSHasIPv6) lines.push('\t* IPv6: no, but OS has support');
  else lines.push('\t* IPv6: no, unavailable in OS');
  lines.push(`\t* MappingVariesByDestIP: ${rep.MappingVariesByDestIP === null ? '' : rep.MappingVariesByDestIP}`);
  lines.push(`\t* PortMapping: ${[rep.UPnP, rep.PMP, rep.PCP].every((v) => v !== true && v !== false) ? 'not checked' : ([['UPnP', rep.UPnP], ['NAT-PMP', rep.PMP], ['PCP', rep.PCP]] as const).filter(([, v]) => v === true).map(([n]) => n).join(', ')}`); // as tailscale netcheck.go portMapping
  const lat = rep.RegionLatency;
  if (Object.keys(lat).length === 0) {
    lines.push('\t* Nearest DERP: unknown (no response to latency probes)');
  } else {
    const pref = r.Regions.find((x) => x.RegionID === rep.PreferredDERP);
    lines.push(rep.PreferredDERP === 0 ? '\t* Nearest DERP: [none]' : `\t* Nearest DERP: ${pref ? pref.RegionName : `${rep.PreferredDERP} (region not found in map)`}`);
    lines.push('\t* DERP latency:');
    const regions = [...r.Regions].sort((a, b) => {
      const la = lat[String(a.RegionID)], lb = lat[String(b.RegionID)];
      if ((la === undefined) !== (lb === undefined)) return la === undefined ? 1 : -1;
      if (la === undefined || lb === undefined) return a.RegionID - b.RegionID;
      return la - lb;
    });
    for (const g of regions) {
      const ns = lat[String(g.RegionID)];
      const l = ns === undefined ? '' : goDuration(Math.round(ns / 1e5) / 10);
      lines.push(`\t\t- ${g.RegionCode.padStart(3)}: ${l.padEnd(7)} (${g.RegionName})`);
    }
  }
  return lines.join('\n') + '\n';
}
