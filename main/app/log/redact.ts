// Log redaction for the app's electron-log hooks: no private key, auth key, token or secret
// reaches a log file. Applied to every message and every structured field.

const SECRET_PATTERNS: [RegExp, string][] = [
  [/\b(privkey|nodekey-priv|machinekey-priv|discokey-priv):[0-9a-f]{64}\b/gi, '$1:[REDACTED]'],
  [/\btskey-[A-Za-z0-9-]+/g, 'tskey-[REDACTED]'],
  [/\bhskey-[A-Za-z0-9_-]+/g, 'hskey-[REDACTED]'],
  // Headscale pre-auth keys are long hex/base64-ish tokens given after --authkey / AuthKey.
  [/("?(?:AuthKey|authkey|auth_key|authKey)"?\s*[:=]\s*"?)[^"\s,}]+/g, '$1[REDACTED]'],
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
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEYS.test(k) ? '[REDACTED]' : redactValue(x, seen);
  return out;
}
