// Parsers for what the `tailscale` CLI (and Meshtray's CLI, which mirrors it) prints. Pure functions,
// unit-tested in test/unit/lab/. Formats: tailscale cmd/tailscale/cli/ping.go ("pong from NAME (IP)
// via DERP(code)|ip:port|peer-relay(…) in LATENCY"), up.go (--json blocks with AuthURL/BackendState;
// else "To authenticate, visit:" on stderr), ipn/ipnstate/ipnstate.go (status --json).
import { z } from 'zod';

export type PongVia =
  | { kind: 'derp'; region: string }
  | { kind: 'direct'; endpoint: string }
  | { kind: 'peer-relay'; relay: string }
  | { kind: 'other'; text: string };

export interface Pong {
  name: string;
  ip: string;
  via: PongVia;
  latencyMs: number;
  line: string;
}

const PONG_RE = /^pong from (\S+) \(([^),]+)(?:, \d+)?\) via (\S+) in (\S+)$/;

/** Go's time.Duration.String() as printed after rounding to ms ("0s", "12ms", "1.5s", "1m2.5s"). */
export function parseGoDuration(s: string): number {
  if (s === '0s' || s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|µs|us|ns)/g;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, µs: 1e-3, us: 1e-3, ns: 1e-6 };
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed !== s.length) throw new Error(`not a Go duration: ${s}`);
  return total;
}

export function parseVia(v: string): PongVia {
  let m = /^DERP\((.+)\)$/.exec(v);
  if (m) return { kind: 'derp', region: m[1]! };
  m = /^peer-relay\((.+)\)$/.exec(v);
  if (m) return { kind: 'peer-relay', relay: m[1]! };
  if (/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d+$/.test(v)) return { kind: 'direct', endpoint: v };
  return { kind: 'other', text: v };
}

export function parsePongLine(line: string): Pong | undefined {
  const m = PONG_RE.exec(line.trim());
  if (!m) return undefined;
  return { name: m[1]!, ip: m[2]!, via: parseVia(m[3]!), latencyMs: parseGoDuration(m[4]!), line: line.trim() };
}

export function parsePongs(output: string): Pong[] {
  return output.split('\n').flatMap((l) => {
    const p = parsePongLine(l);
    return p ? [p] : [];
  });
}

/** Concatenated (pretty-printed) JSON objects, as `up --json` writes them, split into values. */
export function splitJsonObjects(text: string): { values: unknown[]; rest: string } {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inStr = false;
  let esc = false;
  let consumed = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (esc) esc = false;
      else if (c === '\\') esc = true;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        try {
          values.push(JSON.parse(text.slice(start, i + 1)));
        } catch {
          /* not JSON after all: skip */
        }
        consumed = i + 1;
      }
    }
  }
  return { values, rest: text.slice(consumed) };
}

export const UpJsonSchema = z.looseObject({
  AuthURL: z.string().optional(),
  BackendState: z.string().optional(),
  Error: z.string().optional(),
});

/** The AuthURL from `up` output: a --json block, or the "To authenticate, visit:" text. */
export function findAuthUrl(stdout: string, stderr: string): string | undefined {
  for (const v of splitJsonObjects(stdout).values) {
    const p = UpJsonSchema.safeParse(v);
    if (p.success && p.data.AuthURL) return p.data.AuthURL;
  }
  const m = /To authenticate, visit:\s+(\S+)/.exec(stderr + '\n' + stdout);
  return m?.[1];
}

// status --json: only the fields the lab asserts on are typed; the rest passes through.
const nullableArr = z.array(z.string()).nullish().transform((v) => v ?? []);
export const PeerStatusSchema = z.looseObject({
  ID: z.string().optional(),
  PublicKey: z.string().optional(),
  HostName: z.string(),
  DNSName: z.string().optional().default(''),
  OS: z.string().optional(),
  TailscaleIPs: nullableArr,
  Online: z.boolean().optional().default(false),
  CurAddr: z.string().optional().default(''),
  Relay: z.string().optional().default(''),
  Active: z.boolean().optional(),
  ExitNode: z.boolean().optional(),
  ExitNodeOption: z.boolean().optional(),
  PrimaryRoutes: nullableArr,
  AllowedIPs: nullableArr,
});
export type PeerStatus = z.infer<typeof PeerStatusSchema>;

export const StatusSchema = z.looseObject({
  Version: z.string().optional(),
  BackendState: z.string(),
  AuthURL: z.string().optional().default(''),
  TailscaleIPs: nullableArr,
  Self: PeerStatusSchema.nullish(),
  Peer: z.record(z.string(), PeerStatusSchema).nullish().transform((v) => v ?? {}),
  Health: z.array(z.string()).nullish(),
});
export type Status = z.infer<typeof StatusSchema>;

export function parseStatus(json: string): Status {
  return StatusSchema.parse(JSON.parse(json));
}

/** The peer with this HostName (the map is keyed by node key, which tests don't know). */
export function peerByHostName(st: Status, hostName: string): PeerStatus | undefined {
  return Object.values(st.Peer).find((p) => p.HostName === hostName);
}
