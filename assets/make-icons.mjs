#!/usr/bin/env node
// Generates the tray icons (PNG, RGBA) with no dependencies: a 3x3 "mesh" of dots whose look says
// the state. disconnected = grey outlines, connected = solid green mesh, exit-node = green mesh
// with a blue arrow in the corner. Sizes: 16, 32 (@2x) as Electron picks "name@2x.png" itself.
// Run: node assets/make-icons.mjs  (output is committed; rerun only to change the design)
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x + 0.5, y + 0.5, size);
      const o = y * (size * 4 + 1) + 1 + x * 4;
      raw[o] = r; raw[o + 1] = g; raw[o + 2] = b; raw[o + 3] = a;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const GREY = [128, 128, 128], GREEN = [46, 160, 67], BLUE = [47, 91, 211];
function variant(kind) {
  return (x, y, s) => {
    const u = x / s, v = y / s;
    // Exit-node arrow: a blue triangle in the lower-right quarter.
    if (kind === 'exit-node' && u > 0.55 && v > 0.55 && u + v > 1.45) return [...BLUE, 255];
    let best = 9;
    for (const cx of [0.2, 0.5, 0.8]) for (const cy of [0.2, 0.5, 0.8]) best = Math.min(best, Math.hypot(u - cx, v - cy));
    const r = 0.12;
    if (kind === 'disconnected') return best < r && best > r - 0.06 ? [...GREY, 255] : [0, 0, 0, 0];
    if (kind === 'exit-node' && u > 0.6 && v > 0.6) return [0, 0, 0, 0];
    return best < r ? [...GREEN, 255] : [0, 0, 0, 0];
  };
}
for (const kind of ['disconnected', 'connected', 'exit-node']) {
  writeFileSync(join(here, `tray-${kind}.png`), png(16, variant(kind)));
  writeFileSync(join(here, `tray-${kind}@2x.png`), png(32, variant(kind)));
}
writeFileSync(join(here, 'icon.png'), png(512, variant('connected')));
// --preview DIR: one 3-up, 96 px strip to look at the design.
const pi = process.argv.indexOf('--preview');
if (pi > 0) {
  const kinds = ['disconnected', 'connected', 'exit-node'];
  const strip = (x, y, s) => {
    const k = Math.min(2, Math.floor((x / s) * 3));
    const px = variant(kinds[k])(((x % (s / 3)) / (s / 3)) * s, (y / (s / 3)) * s, s);
    return y < s / 3 ? (px[3] ? px : [255, 255, 255, 255]) : [255, 255, 255, 255];
  };
  writeFileSync(join(process.argv[pi + 1], 'preview.png'), png(288, strip));
}
