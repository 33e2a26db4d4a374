// The addon reports counters as a flat object whose names come from native/src/counters.rs; the
// engine groups them. This test reads the Rust list so a counter added or renamed on either side
// without the other fails here instead of silently reading 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { groupCounters, RawCountersSchema } from '../../../../main/engine/dataplane/data-plane.js';

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try { readFileSync(join(d, 'native', 'src', 'counters.rs')); return d; } catch { /* go up */ }
    const up = dirname(d);
    if (up === d) throw new Error('native/src/counters.rs not found above the test');
    d = up;
  }
}

function rustCounterNames(): string[] {
  const src = readFileSync(join(repoRoot(), 'native', 'src', 'counters.rs'), 'utf8').replace(/\/\/.*$/gm, '');
  const start = src.indexOf('counters!(\n');
  const body = src.slice(start + 'counters!('.length, src.indexOf(');', start));
  return body.split(',').map((s) => s.trim()).filter(Boolean)
    .map((snake) => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
}

function leaves(o: unknown, out: number[] = []): number[] {
  if (typeof o === 'number') out.push(o);
  else if (o && typeof o === 'object') for (const v of Object.values(o)) leaves(v, out);
  return out;
}

describe('data-plane counters', () => {
  it('maps every native counter to exactly one grouped field', () => {
    const names = rustCounterNames();
    assert.ok(names.length >= 30, `parsed ${names.length} counter names`);
    // Distinct powers of two so each grouped value identifies its source counter.
    const raw = Object.fromEntries(names.map((n, i) => [n, 2 ** i]));
    const g = groupCounters(RawCountersSchema.parse(raw));
    const { total, ...toJsParts } = g.toJs;
    assert.equal(total, Object.values(toJsParts).reduce((x, y) => x + y, 0));
    const got = leaves({ ...g, toJs: toJsParts }).sort((a, b) => a - b);
    assert.deepEqual(got, Object.values(raw).sort((a, b) => a - b));
  });

  it('rejects a counter object that is not name → non-negative number', () => {
    assert.throws(() => RawCountersSchema.parse({ directRxPackets: -1 }));
    assert.throws(() => RawCountersSchema.parse({ directRxPackets: 'many' }));
  });
});
