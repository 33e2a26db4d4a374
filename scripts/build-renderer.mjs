#!/usr/bin/env node
// Bundles the renderer (React + zustand) into dist/renderer/ and the sandboxed preload into one
// CommonJS file, dist/preload/preload.cjs (a sandboxed preload cannot require() local files).
// Also the `meshtray web` page (main/web): dist/web/web-shim.js (window.meshtray over HTTP) and
// dist/web/index.html (the renderer's page with the shim loaded first and connect-src 'self'),
// so the web server needs no bundler at run time.
// Type checking is tsc -b's job; this only bundles.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const outRenderer = join(root, 'dist', 'renderer');
const outPreload = join(root, 'dist', 'preload');
const outWeb = join(root, 'dist', 'web');
mkdirSync(outRenderer, { recursive: true });
mkdirSync(outWeb, { recursive: true });
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
  build({
    entryPoints: [join(root, 'main', 'web', 'browser', 'web-shim.ts')],
    outfile: join(outWeb, 'web-shim.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome130'],
    minify: !dev,
    logLevel: 'warning',
  }),
]);
for (const f of ['index.html', 'styles.css']) copyFileSync(join(root, 'renderer', f), join(outRenderer, f));

// The web page: the same index.html, with the shim before the renderer and connect-src 'self'
// (the Electron page has connect-src 'none'). Fails the build if the page changed shape.
const page = readFileSync(join(root, 'renderer', 'index.html'), 'utf8');
const rendererTag = '<script src="./renderer.js"></script>';
if (!page.includes("connect-src 'none'") || !page.includes(rendererTag)) {
  throw new Error(`build-renderer: renderer/index.html no longer has "connect-src 'none'" and ${rendererTag}; update the web page step`);
}
writeFileSync(
  join(outWeb, 'index.html'),
  page
    .replace("connect-src 'none'", "connect-src 'self'")
    .replace('(file:// pages get no headers)', '(meshtray web: connect-src \'self\'; the server also sends it as a header)')
    .replace(rendererTag, `<script src="./web-shim.js"></script>\n    ${rendererTag}`),
);
