// Go `flag` package conventions the tailscale CLI users type, mapped onto commander:
// `-json` (single dash long flag) = `--json`, booleans as `--accept-dns=false`, durations as `60s`.

/** strconv.ParseBool's accepted spellings. */
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export class FlagError extends Error {}

/**
 * Rewrites argv so commander understands Go-style flags: `-name` → `--name` for long names,
 * `--bool=true` → `--bool`, `--bool=false` → `--no-bool` for the given boolean flag names.
 * Stops at `--`. Throws FlagError for a bad boolean value.
 */
export function normalizeGoFlags(argv: readonly string[], booleans: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (/^-[A-Za-z][A-Za-z0-9-]+(=.*)?$/.test(a)) a = '-' + a; // -json → --json, -socket=x → --socket=x
    const m = /^--([A-Za-z0-9-]+)=(.*)$/s.exec(a);
    if (m && booleans.has(m[1]!)) {
      const v = m[2]!;
      if (TRUE.has(v)) a = `--${m[1]}`;
      else if (FALSE.has(v)) a = `--no-${m[1]}`;
      else throw new FlagError(`invalid boolean value "${v}" for -${m[1]}: parse error`);
    }
    out.push(a);
  }
  return out;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration (non-negative): "60s", "1m30s", "1.5h", "500ms", "0" → milliseconds. */
export function parseGoDuration(s: string): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while (pos < s.length && (m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (s.length === 0 || pos !== s.length) throw new FlagError(`invalid duration "${s}"`);
  return total;
}
