// Seeded input generation for the bounded fuzz targets (run in CI on every test run).
// MESHTRAY_FUZZ_ITERATIONS / MESHTRAY_FUZZ_SEED override the defaults for longer local runs.
import { SeededRandom } from '../doubles/seeded-random.js';

export const ITERATIONS = Number(process.env.MESHTRAY_FUZZ_ITERATIONS ?? 20_000);
export const SEED = Number(process.env.MESHTRAY_FUZZ_SEED ?? 0x6d657368);

/** The shared seeded source (test/doubles/seeded-random.ts) plus the fuzz mutator. */
export class Rng extends SeededRandom {
  /** One of: flip bits, overwrite bytes, truncate, extend, splice in interesting values. */
  mutate(src: Uint8Array): Uint8Array {
    let b = Uint8Array.from(src);
    const rounds = 1 + this.int(4);
    for (let r = 0; r < rounds; r++) {
      switch (this.int(6)) {
        case 0: if (b.length) b[this.int(b.length)]! ^= 1 << this.int(8); break;
        case 1: if (b.length) b[this.int(b.length)] = this.u32() & 0xff; break;
        case 2: b = b.slice(0, this.int(b.length + 1)); break;
        case 3: { const e = this.bytes(this.int(64)); const n = new Uint8Array(b.length + e.length); n.set(b); n.set(e, b.length); b = n; break; }
        case 4: if (b.length >= 4) { const o = this.int(b.length - 3); const v = [0, 0xff, 0x7f, 0x80][this.int(4)]!; b.fill(v, o, o + 1 + this.int(4)); } break;
        case 5: if (b.length) { const o = this.int(b.length); b[o] = [0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x08, 0x12, 0x14, 0x15, 0xff][this.int(11)]!; } break;
      }
    }
    return b;
  }
}
