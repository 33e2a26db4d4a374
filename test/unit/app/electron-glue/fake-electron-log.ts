// Stand-in for electron-log/main: keeps lines after the app's hooks ran (so redaction is visible).
type Hook = (m: { data: unknown[]; level: string }) => { data: unknown[]; level: string } | false;
const lines: string[] = [];
(globalThis as any).__fakeLogLines = lines;
const hooks: Hook[] = [];
function emit(level: string, ...data: unknown[]): void {
  let m: { data: unknown[]; level: string } | false = { data, level };
  for (const h of hooks) if (m) m = h(m);
  if (m) lines.push(`${level} ${JSON.stringify(m.data)}`);
}
const log = {
  initialize() {},
  hooks,
  debug: (...d: unknown[]) => emit('debug', ...d),
  info: (...d: unknown[]) => emit('info', ...d),
  warn: (...d: unknown[]) => emit('warn', ...d),
  error: (...d: unknown[]) => emit('error', ...d),
};
export default log;
