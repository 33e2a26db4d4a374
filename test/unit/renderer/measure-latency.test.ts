import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshtrayClient, type RawBridge } from '../../../renderer/api/client.js';
import { LATENCY_MAX_AGE_MS, LATENCY_RETRY_MS, measureLatency, needsMeasuring } from '../../../renderer/api/measure-latency.js';
import { createUiStore } from '../../../renderer/store/engine-store.js';

/** A bridge whose ping answers with the given envelope (what main's IPC router would send). */
function clientAnswering(envelope: unknown): { client: MeshtrayClient; asked: unknown[] } {
  const asked: unknown[] = [];
  const raw = { ping: async (req: unknown) => (asked.push(req), envelope) } as unknown as RawBridge;
  return { client: new MeshtrayClient(raw), asked };
}

test('a ping answer lands in the store for every view: latency, path, time', async () => {
  const store = createUiStore();
  const { client, asked } = clientAnswering({ ok: true, value: { IP: '100.64.0.2', LatencySeconds: 0.012, Endpoint: '198.51.100.50:41641' } });
  const before = Date.now();
  const r = await measureLatency(client, store, '100.64.0.2', 3_000);
  assert.equal(r.LatencySeconds, 0.012);
  assert.deepEqual(asked, [{ Target: '100.64.0.2', TimeoutMs: 3_000 }]);
  const p = store.getState().pings['100.64.0.2']!;
  assert.equal(p.pending, false);
  assert.equal(p.latencyMs, 12);
  assert.equal(p.via, 'direct 198.51.100.50:41641');
  assert.equal(p.path, 'direct');
  assert.ok(p.at !== undefined && p.at >= before);
});

test('a pong over DERP records the path as relayed', async () => {
  const store = createUiStore();
  const { client } = clientAnswering({ ok: true, value: { IP: '100.64.0.3', LatencySeconds: 0.05, DERPRegionID: 900, DERPRegionCode: 'lab1' } });
  await measureLatency(client, store, '100.64.0.3');
  assert.deepEqual([store.getState().pings['100.64.0.3']?.path, store.getState().pings['100.64.0.3']?.via], ['relayed', 'DERP lab1']);
});

test('a refused ping is recorded with the engine message, and rethrown with its code', async () => {
  const store = createUiStore();
  const { client } = clientAnswering({ ok: false, error: { code: 'ERR_INTERNAL', message: 'ping needs the data plane' } });
  await assert.rejects(measureLatency(client, store, '100.64.0.9'), (e: unknown) => (e as { code?: string }).code === 'ERR_INTERNAL');
  assert.deepEqual({ ...store.getState().pings['100.64.0.9'], at: 0 }, { pending: false, at: 0, error: 'ping needs the data plane' });
});

test('measure again only when never measured or older than a minute, never while one is running', () => {
  const now = 1_000_000;
  assert.equal(needsMeasuring(undefined, now), true);
  assert.equal(needsMeasuring({ pending: true }, now), false);
  assert.equal(needsMeasuring({ pending: false, at: now - 1_000, latencyMs: 4 }, now), false);
  assert.equal(needsMeasuring({ pending: false, at: now - LATENCY_MAX_AGE_MS - 1, latencyMs: 4 }, now), true);
  // A failed ping (no answer yet) is tried again after LATENCY_RETRY_MS, not after a minute.
  assert.equal(needsMeasuring({ pending: false, at: now - 1_000, error: 'timeout' }, now), false);
  assert.equal(needsMeasuring({ pending: false, at: now - LATENCY_RETRY_MS - 1, error: 'timeout' }, now), true);
  assert.equal(needsMeasuring({ pending: false, at: now - LATENCY_RETRY_MS - 1, latencyMs: 4 }, now), false);
});
