// Secrets (pre-auth keys) must never reach a log line or an error message the lab prints.
const SECRET_FLAG = /^(--auth-?key)(=.*)?$/;
const SECRET_VALUE = /\b(hskey-[A-Za-z0-9_-]+|tskey-[A-Za-z0-9_-]+)/g;

export function redactText(s: string): string {
  return s.replace(SECRET_VALUE, (m) => m.slice(0, m.indexOf('-', 6) + 1 || 6) + '<redacted>');
}

/** The argv as a printable command line with secret flag values replaced. */
export function redactArgv(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = SECRET_FLAG.exec(a);
    if (m && m[2]) out.push(`${m[1]}=<redacted>`);
    else if (m) {
      out.push(a, '<redacted>');
      i++;
    } else out.push(redactText(a));
  }
  return out.join(' ');
}
