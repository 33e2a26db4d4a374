#!/usr/bin/env node
// The layering rule, checked by the build (VS Code's "layer" check, Tailscale's deptest):
// each top-level folder may import only from the folders and packages listed here.
// tsc project references already stop cross-project imports of files not referenced;
// this adds the package side (no `electron` in the engine, no `node:` in the renderer).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');

/** layer -> { dirs: allowed source folders, node: node builtins allowed, pkgs: allowed packages (prefix match) } */
const rules = {
  'common':      { dirs: ['common'], node: false, pkgs: ['zod'] },
  'main/engine': { dirs: ['common', 'main/engine'], node: true, deny: ['electron', 'react', 'react-dom', 'zustand', 'electron-log', 'electron-updater'] },
  'main/client': { dirs: ['common', 'main/client'], node: true, deny: ['electron', 'react'] },
  'main/daemon': { dirs: ['common', 'main/engine', 'main/daemon'], node: true, deny: ['electron', 'react'] },
  'main/cli':    { dirs: ['common', 'main/client', 'main/cli', 'main/web'], node: true, deny: ['electron', 'react'] },
  'main/app':    { dirs: ['common', 'main/engine', 'main/client', 'main/app'], node: true, deny: ['react', 'react-dom'] },
  // `meshtray web`: the window's plain modules (controller, router, schemas) behind an HTTP server;
  // never Electron. Its browser shim is a page script like the preload: no Node.
  'main/web':    { dirs: ['common', 'main/client', 'main/app', 'main/engine/ports', 'main/engine/log', 'main/web'], node: true, deny: ['electron', 'electron-log', 'electron-updater', 'react', 'react-dom'] },
  'main/web/browser': { dirs: ['common', 'preload', 'main/web/browser'], node: false, pkgs: ['zod'] },
  'preload':     { dirs: ['common', 'preload'], node: false, pkgs: ['electron', 'zod'] },
  'renderer':    { dirs: ['common', 'renderer'], node: false, pkgs: ['react', 'react-dom', 'zustand', 'zod'] },
};

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) yield* walk(p);
    else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) yield p;
  }
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;
const problems = [];
const layers = Object.keys(rules);
/** A file belongs to the most specific layer folder holding it (main/web/browser before main/web). */
const layerOf = (file) => layers.filter((l) => (relative(root, file).split(sep).join('/') + '/').startsWith(l + '/')).sort((a, b) => b.length - a.length)[0];
for (const [layer, rule] of Object.entries(rules)) {
  let files;
  try { files = [...walk(join(root, layer))].filter((f) => layerOf(f) === layer); } catch { continue; }
  for (const file of files) {
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const where = relative(root, file);
      if (spec.startsWith('.')) {
        const target = relative(root, resolve(dirname(file), spec)).split(sep).join('/');
        if (!rule.dirs.some((d) => target === d || target.startsWith(d + '/'))) {
          problems.push(`${where}: imports ${spec} (${target}), outside ${layer}'s allowed folders [${rule.dirs.join(', ')}]`);
        }
      } else if (spec.startsWith('node:')) {
        if (!rule.node) problems.push(`${where}: imports ${spec}; ${layer} must not use Node built-ins`);
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (rule.pkgs && !rule.pkgs.includes(pkg) && !pkg.startsWith('@types/')) {
          problems.push(`${where}: imports package ${pkg}; ${layer} may import only [${rule.pkgs.join(', ')}]`);
        }
        if (rule.deny && rule.deny.includes(pkg)) problems.push(`${where}: imports ${pkg}, which ${layer} must never import`);
      }
    }
  }
}
if (problems.length) {
  console.error(`check-imports: ${problems.length} layering violation(s):\n  ` + problems.join('\n  '));
  process.exit(1);
}
