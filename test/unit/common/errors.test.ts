import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshtrayError, ErrorBodySchema } from '../../../common/errors/errors.js';

test('MeshtrayError keeps its code across a serialise/parse round trip', () => {
  const e = new MeshtrayError('ERR_NO_SUCH_PEER', 'no peer named "nas"', { name: 'nas' });
  const wire = JSON.parse(JSON.stringify(e.toBody()));
  const back = MeshtrayError.fromBody(ErrorBodySchema.parse(wire));
  assert.equal(back.code, 'ERR_NO_SUCH_PEER');
  assert.equal(back.message, 'no peer named "nas"');
  assert.deepEqual(back.details, { name: 'nas' });
  assert.ok(MeshtrayError.is(back));
  assert.ok(!MeshtrayError.is(new Error('x')));
});

test('an unknown error code is rejected at the boundary', () => {
  assert.throws(() => ErrorBodySchema.parse({ code: 'ERR_MADE_UP', message: 'x' }));
});
