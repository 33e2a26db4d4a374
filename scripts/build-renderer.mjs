#!/usr/bin/env node
// Bundles the renderer (React + zustand) into dist/renderer/ and the sandboxed preload into one
// CommonJS file, dist/preload/preload.cjs (a sandboxed preload cannot require() local files).
// Type checking is tsc -b's job; this only bundles.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const outRenderer = join(root, 'dist', 'renderer');
const outPreload = join(root, 'dist', 'preload');
mkdirSync(outRenderer, { recursive: true });
mkdirSync(outPreload, { recursive: true });
const dev = process.argv.includes('--dev');

await Promise.all([
  build({
    entryPoints: [join(root, 'renderer', 'main.tsx')],
    outfile: join(outRenderer, 'renderer.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome130'],
    jsx: 'automatic',
    minify: !dev,
    sourcemap: true,
    define: { 'process.env.NODE_ENV': JSON.stringify(dev ? 'development' : 'production') },
    logLevel: 'warning',
  }),
  build({
    entryPoints: [join(root, 'preload', 'preload.ts')],
    outfile: join(outPreload, 'preload.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: ['node22'],
    external: ['electron'],
    sourcemap: true,
    logLevel: 'warning',
  }),
]);
for (const f of ['index.html', 'styles.css']) copyFileSync(join(root, 'renderer', f), join(outRenderer, f));
