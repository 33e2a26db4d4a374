// Log redaction for the app's electron-log hooks: no private key, auth key, token or secret
// reaches a log file. Applied to every message and every structured field.

const SECRET_PATTERNS: [RegExp, string][] = [
  [/\b(privkey|nodekey-priv|machinekey-priv|discokey-priv):[0-9a-f]{64}\b/gi, '$1:[REDACTED]'],
  [/\btskey-[A-Za-z0-9-]+/g, 'tskey-[REDACTED]'],
  [/\bhskey-[A-Za-z0-9_-]+/g, 'hskey-[REDACTED]'],
  // Headscale pre-auth keys: "hskey-auth-<prefix>-<secret>" since 0.27 (caught above), 48 hex
  // characters before (no prefix to spot), so also whatever follows an AuthKey field or flag:
  // `AuthKey: …`, `"authKey":"…"`, `--authkey=…`, `--auth-key …` (tailscale up's flag).
  [/("?(?:AuthKey|authkey|auth_key|authKey)"?\s*[:=]\s*"?)[^"\s,}]+/g, '$1[REDACTED]'],
  [/(--auth-?key[=\s]+)[^\s"]+/gi, '$1[REDACTED]'],
  [/("?(?:client_secret|password|token|access_token|id_token|refresh_token)"?\s*[:=]\s*"?)[^"\s,}&]+/gi, '$1[REDACTED]'],
  [/([?&](?:code|state|nonce|token)=)[^&\s"]+/g, '$1[REDACTED]'],
];

const SECRET_KEYS = /^(authkey|auth_key|password|secret|client_secret|token|access_token|id_token|refresh_token|privatekey|private_key)$/i;

export function redactText(s: string): string {
  let out = s;
  for (const [re, rep] of SECRET_PATTERNS) out = out.replace(re, rep);
  return out;
}

/** Deep copy with secret-looking keys blanked and strings scrubbed. Cycles end as "[cycle]". */
export function redactValue(v: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof v === 'string') return redactText(v);
  if (v === null || typeof v !== 'object') return v;
  if (seen.has(v)) return '[cycle]';
  seen.add(v);
  if (Array.isArray(v)) return v.map((x) => redactValue(x, seen));
  if (v instanceof Error) return { name: v.name, message: redactText(v.message) };
  // Raw bytes are never written out: a key object's private scalar is a Uint8Array field.
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return `[${v.byteLength} bytes]`;
  // An object that says how it is serialised is taken at its word (PrivateKey.toJSON gives
  // "privkey:<redacted node>"); walking its fields would reach the raw key bytes.
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return redactValue(toJSON.call(v), seen);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEYS.test(k) ? '[REDACTED]' : redactValue(x, seen);
  return out;
}
