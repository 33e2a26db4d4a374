// Times as Go's encoding/json writes them (time.Time.MarshalJSON = RFC 3339 with up to nine
// fractional digits, trailing zeros dropped, always a zone). Control sends them that way and
// `tailscale status --json` prints them that way, including the zero time "0001-01-01T00:00:00Z",
// which means "none" (not the Unix epoch: control.md §14).

/** RFC 3339 as Go's time.Time.UnmarshalJSON accepts it (date, 'T', time, optional fraction, Z or ±hh:mm). */
export const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

export function isRFC3339(s: string): boolean {
  const m = RFC3339_RE.exec(s);
  if (!m) return false;
  const [mo, d, h, mi, sec] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 59;
}

/** Zero time ("none"): year 1, midnight, in whatever zone Go wrote it. */
export function isZeroTime(s: string | null | undefined): boolean {
  if (!s) return true;
  const m = RFC3339_RE.exec(s);
  if (!m) return false;
  // Go's zero Time is 0001-01-01T00:00:00 UTC; Go writes it with "Z".
  return m[1] === '0001' && m[2] === '01' && m[3] === '01' && m[4] === '00' && m[5] === '00' && m[6] === '00' && !/[1-9]/.test(m[7] ?? '') && m[8] === 'Z';
}

/** Milliseconds since the epoch, or NaN. Sub-millisecond digits are dropped (JS Date precision). */
export function goTimeToMs(s: string): number {
  return Date.parse(s);
}

/** Formats epoch milliseconds as Go would marshal a UTC time.Time. */
export function formatGoTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-23T19:08:12.120Z
  const [base, frac] = iso.slice(0, -1).split('.') as [string, string | undefined];
  const trimmed = (frac ?? '').replace(/0+$/, '');
  return trimmed ? `${base}.${trimmed}Z` : `${base}Z`;
}

/**
 * time.Time.Round(time.Second), keeping the zone as written (tailscale rounds KeyExpiry this way
 * before putting it in ipnstate.PeerStatus; see ipn/ipnlocal/local.go peerStatusFromNode).
 * Halfway values round up, as Go's Round does.
 */
export function roundGoTimeToSecond(s: string): string {
  const m = RFC3339_RE.exec(s);
  if (!m) return s;
  const frac = m[7];
  const zone = m[8]!;
  const base = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}`;
  if (!frac || frac[1]! < '5') return `${base}${zone}`;
  // Add one second to the wall-clock fields, treating them as UTC so the zone text stays as is.
  const next = new Date(Date.parse(`${base}Z`) + 1000).toISOString().slice(0, 19);
  return `${next}${zone}`;
}
