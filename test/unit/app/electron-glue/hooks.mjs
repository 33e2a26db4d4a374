// Resolve hooks: 'electron', 'electron-log/main.js' and 'electron-updater' -> the fakes.
let map = {};
export function initialize({ dir, ext }) {
  map = {
    electron: new URL(`fake-electron${ext}`, dir).href,
    'electron-log/main.js': new URL(`fake-electron-log${ext}`, dir).href,
    'electron-updater': new URL(`fake-electron-updater${ext}`, dir).href,
  };
}
export async function resolve(spec, ctx, next) {
  const to = map[spec];
  if (to) return { url: to, shortCircuit: true };
  return next(spec, ctx);
}
