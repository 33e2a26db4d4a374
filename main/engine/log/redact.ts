// Last line of defence against secrets in logs and status: code should never log a secret in
// the first place (PrivateKey.toString() already hides itself), but a server error string or an
// echoed request can carry one. Everything written by the logger goes through redact().

const PATTERNS: Array<[RegExp, string]> = [
  // Curve25519 private keys in Tailscale text form (machine and node keys share the prefix).
  [/privkey:[0-9a-fA-F]{8,}/g, 'privkey:<redacted>'],
  // Tailscale SaaS auth keys (tskey-auth-…, tskey-client-…, tskey-api-…).
  [/tskey-[A-Za-z0-9_-]+/g, 'tskey-<redacted>'],
  // Headscale v0.28+ keys: hskey-auth-<prefix>-<secret>, hskey-api-…; the registration ID
  // (hskey-authreq-…) is not secret and stays readable for the admin command.
  [/hskey-(?!authreq-)[A-Za-z0-9]+-[A-Za-z0-9_-]+/g, 'hskey-<redacted>'],
  // Authorization / Cookie header values and bearer tokens.
  [/((?:authorization|proxy-authorization|cookie)["']?\s*[:=]\s*["']?)(?:Bearer\s+|Basic\s+)?[^\s"',}]+/gi, '$1<redacted>'],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer <redacted>'],
  // Older Headscale pre-auth keys: 48 hex characters (v0.22-v0.26), also 40+ hex runs in general:
  // no legitimate log field is that long a bare hex string except keys (prefixed ones were handled).
  [/(?<![0-9a-fA-F:])[0-9a-fA-F]{40,}(?![0-9a-fA-F])/g, '<redacted-hex>'],
];

/** Field names whose values are secret whatever they look like. */
const SECRET_FIELD = /^(authkey|auth_key|auth-key|authKey|AuthKey|password|passwd|secret|token|access_token|refresh_token|id_token|privateKey|private_key|PrivateNodeKey|OldPrivateNodeKey|PrivateMachineKey|authorization|cookie)$/i;

export function redactString(s: string): string {
  let out = s;
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}

/** Deep-copies a value, redacting secret-named fields and secret-looking strings. */
export function redactValue(v: unknown, depth = 0): unknown {
  if (depth > 8) return '<too deep>';
  if (typeof v === 'string') return redactString(v);
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Error) {
    const o: Record<string, unknown> = { name: v.name, message: redactString(v.message) };
    const code = (v as { code?: unknown }).code;
    if (code !== undefined) o['code'] = code;
    return o;
  }
  if (Array.isArray(v)) return v.map((x) => redactValue(x, depth + 1));
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return redactValue((toJSON as () => unknown).call(v), depth + 1);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    out[k] = SECRET_FIELD.test(k) && x !== undefined && x !== '' ? '<redacted>' : redactValue(x, depth + 1);
  }
  return out;
}
