// The renderer keeps its own copy of the app-state schemas (it may import only common/); this
// file does not compile if the two drift apart, and checks both accept the same samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { z } from 'zod';
import * as mainSide from '../../../main/app/ipc/app-contract.js';
import * as rendererSide from '../../../renderer/api/app-types.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameAppState: Same<z.infer<typeof mainSide.AppStateSchema>, z.infer<typeof rendererSide.AppStateSchema>> = true;
const sameServerCheck: Same<z.infer<typeof mainSide.ServerCheckResultSchema>, z.infer<typeof rendererSide.ServerCheckResultSchema>> = true;
const sameUpdate: Same<z.infer<typeof mainSide.UpdateStateSchema>, z.infer<typeof rendererSide.UpdateStateSchema>> = true;

test('main and renderer app-state schemas agree', () => {
  assert.ok(sameAppState && sameServerCheck && sameUpdate);
  assert.deepEqual(Object.keys(rendererSide.appResponseSchemas).sort(), Object.keys(mainSide.appCalls).sort());
  const samples = [
    { login: { phase: 'waiting-for-browser', controlURL: 'http://x', authURL: 'http://x/register/1' }, update: { phase: 'ready', currentVersion: '1', availableVersion: '2' }, host: { mode: 'attached', detail: '/s' }, engineReachable: true },
    { login: { phase: 'bogus', controlURL: '' }, update: { phase: 'idle', currentVersion: '1' }, host: { mode: 'attached', detail: '' }, engineReachable: false },
    { login: { phase: 'idle', controlURL: '' }, update: { phase: 'downloading', currentVersion: '1', percent: 140 }, host: { mode: 'attached', detail: '' }, engineReachable: false },
  ];
  for (const s of samples) assert.equal(mainSide.AppStateSchema.safeParse(s).success, rendererSide.AppStateSchema.safeParse(s).success);
});
