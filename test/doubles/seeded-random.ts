// One seeded random source for every test that needs reproducible "random" bytes: the Random port
// for unit tests (DERP, netcheck, magicsock) and the base of the fuzz input generator.
import type { Random } from '../../main/engine/ports/ports.js';

/** xorshift32, seeded: the same seed gives the same sequence on every run. */
export class SeededRandom implements Random {
  private s: number;
  constructor(seed = 0x12345678) {
    // xorshift32 stays at 0 forever from a 0 state.
    this.s = seed >>> 0 || 1;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x;
  }
  /** A whole number in [0, n) (0 for n <= 0). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  float(): number {
    return this.u32() / 0x100000000;
  }
}
