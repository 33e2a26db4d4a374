import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choosePreferredDERP } from '../../../../main/engine/netcheck/preferred-derp.js';

const ms = (n: number): number => n * 1e6;
const lat = (o: Record<number, number>): Map<number, number> => new Map(Object.entries(o).map(([k, v]) => [Number(k), ms(v)]));

test('first report picks the lowest latency', () => {
  assert.equal(choosePreferredDERP({ now: 1000, current: lat({ 900: 30, 901: 12 }), history: [], previous: 0 }).preferred, 901);
});

test('sticks to the old home unless the new one is clearly better', () => {
  // 25 vs 20 ms: < 10 ms apart -> keep 900
  assert.equal(choosePreferredDERP({ now: 1, current: lat({ 900: 25, 901: 20 }), history: [], previous: 900 }).preferred, 900);
  // 60 vs 45 ms: 15 ms apart but 45 > 60*2/3=40 -> keep
  assert.equal(choosePreferredDERP({ now: 1, current: lat({ 900: 60, 901: 45 }), history: [], previous: 900 }).preferred, 900);
  // 60 vs 30 ms: switch
  assert.equal(choosePreferredDERP({ now: 1, current: lat({ 900: 60, 901: 30 }), history: [], previous: 900 }).preferred, 901);
  // old home did not answer and was not heard from: switch
  assert.equal(choosePreferredDERP({ now: 100000, current: lat({ 901: 30 }), history: [], previous: 900 }).preferred, 901);
  // old home silent in STUN but its DERP connection delivered a frame 2 s ago: keep
  assert.equal(choosePreferredDERP({ now: 100000, current: lat({ 901: 30 }), history: [], previous: 900, lastHeardFromPrevious: 98000 }).preferred, 900);
});

test('history: best latency over 5 minutes; old entries pruned', () => {
  const r1 = choosePreferredDERP({ now: 0, current: lat({ 900: 10, 901: 50 }), history: [], previous: 0 });
  // 901 now looks faster, but 900 had 10 ms within the window
  const r2 = choosePreferredDERP({ now: 60_000, current: lat({ 900: 40, 901: 20 }), history: r1.history, previous: 0 });
  assert.equal(r2.preferred, 900);
  const r3 = choosePreferredDERP({ now: 400_000, current: lat({ 900: 40, 901: 20 }), history: r2.history, previous: 0 });
  assert.equal(r3.preferred, 901);
  assert.equal(r3.history.length, 1);
});

test('RegionScore scales latency', () => {
  assert.equal(choosePreferredDERP({ now: 1, current: lat({ 900: 10, 901: 15 }), history: [], previous: 0, scores: { '900': 2 } }).preferred, 901);
});

test('nothing answered: keep a live home, else none', () => {
  assert.equal(choosePreferredDERP({ now: 200_000, current: new Map(), history: [], previous: 900, lastHeardFromPrevious: 150_000 }).preferred, 900);
  assert.equal(choosePreferredDERP({ now: 200_000, current: new Map(), history: [], previous: 900 }).preferred, 0);
});
