import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { addonCandidates, loadNativeDataPlane, ADDON_FILE } from '../../../../main/engine/dataplane/native-loader.js';

describe('native addon loader', () => {
  it('says how to build the addon when it is missing', () => {
    const env = { MESHTRAY_NATIVE_PATH: join(tmpdir(), 'no-such-dir', ADDON_FILE) };
    assert.throws(() => loadNativeDataPlane(env), (e: unknown) => {
      assert.ok(MeshtrayError.is(e));
      assert.equal(e.code, 'ERR_INTERNAL');
      assert.match(e.message, /npm run build:native/);
      assert.deepEqual(e.details?.looked, [env.MESHTRAY_NATIVE_PATH]);
      return true;
    });
  });

  it('reports a file that is not a loadable addon', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshtray-native-'));
    const bogus = join(dir, ADDON_FILE);
    writeFileSync(bogus, 'not an ELF file');
    assert.throws(() => loadNativeDataPlane({ MESHTRAY_NATIVE_PATH: bogus }), (e: unknown) => {
      assert.ok(MeshtrayError.is(e));
      assert.match(e.message, /failed to load/);
      return true;
    });
  });

  it('looks in native/ of every ancestor, nearest first, after the override', () => {
    const c = addonCandidates({ MESHTRAY_NATIVE_PATH: '/opt/x.node' }, '/a/b/dist/main/engine/dataplane/native-loader.js');
    assert.equal(c[0], '/opt/x.node');
    assert.equal(c[1], `/a/b/dist/main/engine/dataplane/native/${ADDON_FILE}`);
    assert.ok(c.includes(`/a/b/native/${ADDON_FILE}`), 'the repository root from dist/');
    assert.equal(c[c.length - 1], `/native/${ADDON_FILE}`);
  });
});
