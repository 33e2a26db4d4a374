// The pure parts the backend builds requests and decisions from: control's clock, the self key's
// expiry, the MapRequest, Hostinfo.NetInfo, and the prefs edits of `up`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { controlNow, selfKeyExpiresInMs } from '../../../../main/engine/backend/key-expiry.js';
import { buildMapRequest } from '../../../../main/engine/backend/map-request.js';
import { withNetInfo } from '../../../../main/engine/backend/hostinfo.js';
import { DEFAULT_CONTROL_URL, mergePrefs, upEdits } from '../../../../main/engine/backend/prefs-edit.js';
import { defaultPrefs } from '../../../../common/schemas/prefs.js';
import { NetMap } from '../../../../main/engine/netmap/netmap.js';
import { parseMapResponse } from '../../../../main/engine/netmap/tailcfg.js';
import { FakeClock } from '../../../doubles/fake-clock.js';
import { fullMap, node, nodeKeyFor } from '../../../doubles/map-messages.js';

const NOON = Date.parse('2026-11-23T12:00:00Z');

test('controlNow: our clock within a minute of ControlTime; control\'s when further off', () => {
  assert.equal(controlNow(NOON, undefined), NOON);
  assert.equal(controlNow(NOON, '0001-01-01T00:00:00Z'), NOON, 'zero time = unknown');
  assert.equal(controlNow(NOON + 59_000, '2026-11-23T12:00:00Z'), NOON + 59_000, 'small drift ignored');
  assert.equal(controlNow(NOON + 3_600_000, '2026-11-23T12:00:00Z'), NOON, 'an hour fast: control wins');
});

test('selfKeyExpiresInMs: undefined without expiry, ≤ 0 once expired', () => {
  const nm = new NetMap({ clock: new FakeClock() });
  assert.equal(selfKeyExpiresInMs(nm, NOON), undefined, 'no self node yet');
  const load = (keyExpiry?: string) => {
    const p = parseMapResponse(fullMap(node({ id: 1, name: 'box', key: nodeKeyFor(1), ...(keyExpiry ? { keyExpiry } : {}) }), []));
    assert.ok(p.ok);
    nm.startStream();
    nm.apply(p.value);
  };
  load();
  assert.equal(selfKeyExpiresInMs(nm, NOON), undefined, 'zero KeyExpiry: never');
  load('2026-11-23T12:01:00Z');
  assert.equal(selfKeyExpiresInMs(nm, NOON), 60_000);
  assert.equal(selfKeyExpiresInMs(nm, NOON + 60_000), 0);
});

test('MapRequest: stream vs lite update, endpoints only with a data path', () => {
  const base = { nodeKey: nodeKeyFor(1), discoKey: 'discokey:' + '1'.repeat(64), hostinfo: { Hostname: 'box' } };
  const s = buildMapRequest({ ...base, stream: true });
  assert.equal(s.Stream, true);
  assert.equal(s.OmitPeers, undefined);
  assert.equal(s.Compress, 'zstd');
  assert.equal(s.KeepAlive, true);
  assert.equal('Endpoints' in s, false);
  const l = buildMapRequest({ ...base, stream: false, endpoints: { Endpoints: ['192.0.2.1:41641'], EndpointTypes: [1] } });
  assert.equal(l.Stream, false);
  assert.equal(l.OmitPeers, true);
  assert.deepEqual(l.Endpoints, ['192.0.2.1:41641']);
  assert.deepEqual(l.EndpointTypes, [1]);
});

test('withNetInfo: only once there is a home DERP; unknown probe results are left out', () => {
  assert.equal(withNetInfo({ Hostname: 'a' }, undefined).NetInfo, undefined);
  assert.equal(withNetInfo({ Hostname: 'a' }, { PreferredDERP: 0, WorkingUDP: true, MappingVariesByDestIP: null }).NetInfo, undefined);
  assert.deepEqual(withNetInfo({ Hostname: 'a' }, { PreferredDERP: 901, WorkingUDP: true, MappingVariesByDestIP: null }).NetInfo, { PreferredDERP: 901, WorkingUDP: true });

  // Port mapping (tailcfg.NetInfo HavePortMap / UPnP / PMP / PCP): false HavePortMap and unknown protocols are omitted.
  assert.deepEqual(
    withNetInfo({ Hostname: 'a' }, { PreferredDERP: 901, WorkingUDP: true, MappingVariesByDestIP: false, HavePortMap: true, UPnP: false, PMP: true, PCP: null }).NetInfo,
    { PreferredDERP: 901, WorkingUDP: true, MappingVariesByDestIP: false, HavePortMap: true, UPnP: false, PMP: true },
  );
  assert.deepEqual(withNetInfo({ Hostname: 'a' }, { PreferredDERP: 901, WorkingUDP: null, MappingVariesByDestIP: null, HavePortMap: false }).NetInfo, { PreferredDERP: 901 });
});

test('up edits: running, logged in, default server only when none, trailing slashes trimmed', () => {
  const fresh = defaultPrefs();
  assert.deepEqual(upEdits({}, fresh), { WantRunning: true, LoggedOut: false, ControlURL: DEFAULT_CONTROL_URL });
  const had = { ...fresh, ControlURL: 'http://hs:8080' };
  assert.equal(upEdits({}, had).ControlURL, undefined, 'keeps the server it has');
  assert.equal(upEdits({ Prefs: { ControlURL: 'http://other:8080//' } }, had).ControlURL, 'http://other:8080');
  const same = mergePrefs(had, { ControlURL: 'http://hs:8080' });
  assert.equal(same.changed, false);
  assert.equal(mergePrefs(had, { Hostname: 'x' }).changed, true);
});
