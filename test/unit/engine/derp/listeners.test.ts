import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Listeners } from '../../../../main/engine/derp/listeners.js';
import { RecordingLogger } from './helpers.js';

interface Events {
  packet: (src: string, n: number) => void;
  state: (s: string) => void;
}

test('a throwing listener is logged and the others still get the event', () => {
  const log = new RecordingLogger();
  const l = new Listeners<Events>(log);
  const got: string[] = [];
  l.on('packet', () => { throw new Error('boom'); });
  l.on('packet', (src, n) => got.push(`${src}:${n}`));
  l.on('state', (s) => got.push(`state ${s}`));
  l.emit('packet', 'peer1', 3);
  assert.deepEqual(got, ['peer1:3']);
  assert.equal(log.lines.filter((x) => x.startsWith('error') && x.includes('listener threw') && x.includes('boom')).length, 1);
});

test('the function on() returns removes that listener only', () => {
  const l = new Listeners<Events>(new RecordingLogger());
  const got: string[] = [];
  const off = l.on('state', (s) => got.push(`a ${s}`));
  l.on('state', (s) => got.push(`b ${s}`));
  l.emit('state', 'connecting');
  off();
  l.emit('state', 'connected');
  assert.deepEqual(got, ['a connecting', 'b connecting', 'b connected']);
});
