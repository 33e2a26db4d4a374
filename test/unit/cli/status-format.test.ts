// `meshtray status` text against tailscale's printPS/printHealth (cmd/tailscale/cli/status.go): the
// exit node in use and the exit-node offers in the status column, the engine's health warnings at
// the end. Inputs are Status objects as the LocalAPI returns them (schema-checked first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus } from '../../../main/cli/status-format.js';
import { StatusSchema, type PeerStatus, type Status } from '../../../common/schemas/status.js';
import { emptyStatus } from '../../doubles/fake-localapi-backend.js';
import { recordedExitNodeStatus } from './fixtures/status-exit-node.js';

function peer(over: Partial<PeerStatus>): PeerStatus {
  return {
    ID: '2', PublicKey: 'nodekey:' + '2'.repeat(64), HostName: 'b1', DNSName: 'b1.tailnet.test.', OS: 'linux', UserID: 1,
    TailscaleIPs: ['100.64.0.2'], CurAddr: '', Relay: 'lab1', RxBytes: 0, TxBytes: 0,
    Created: '2026-11-23T10:00:00Z', LastHandshake: '0001-01-01T00:00:00Z', Online: true, ExitNode: false, ExitNodeOption: false,
    Active: false, InNetworkMap: true, InMagicSock: true, InEngine: true, ...over,
  };
}

function status(peers: PeerStatus[], over: Partial<Status> = {}): Status {
  const self = peer({ ID: '1', HostName: 'm1', DNSName: 'm1.tailnet.test.', TailscaleIPs: ['100.64.0.1'], PublicKey: 'nodekey:' + '1'.repeat(64) });
  return StatusSchema.parse(emptyStatus({
    BackendState: 'Running', HaveNodeKey: true, Self: self, TailscaleIPs: self.TailscaleIPs, MagicDNSSuffix: 'tailnet.test',
    Peer: Object.fromEntries(peers.map((p) => [p.PublicKey, p])), User: { '1': { ID: 1, LoginName: 'lab@', DisplayName: 'lab' } },
    ...over,
  }));
}

/** name → status column of each line (columns are space-padded; the state is everything after OS). */
function columns(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of text.split('\n')) {
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)$/.exec(l);
    if (m) out.set(m[2]!, m[5]!);
  }
  return out;
}

test('status text: the exit node in use and the ones on offer, active or idle, as tailscale prints them', () => {
  const key = (n: number) => 'nodekey:' + String(n).repeat(64);
  const st = status([
    peer({ ID: '3', PublicKey: key(3), HostName: 'exit', DNSName: 'exit.tailnet.test.', TailscaleIPs: ['100.64.0.3'], ExitNode: true, ExitNodeOption: true, Active: true, CurAddr: '198.51.100.70:41641', TxBytes: 1500, RxBytes: 4200 }),
    peer({ ID: '4', PublicKey: key(4), HostName: 'exit2', DNSName: 'exit2.tailnet.test.', TailscaleIPs: ['100.64.0.4'], ExitNodeOption: true }),
    peer({ ID: '5', PublicKey: key(5), HostName: 'relayed', DNSName: 'relayed.tailnet.test.', TailscaleIPs: ['100.64.0.5'], ExitNodeOption: true, Active: true, Relay: 'lab2', TxBytes: 92, RxBytes: 92 }),
    peer({ ID: '6', PublicKey: key(6), HostName: 't1', DNSName: 't1.tailnet.test.', TailscaleIPs: ['100.64.0.6'], Active: true, CurAddr: '198.51.100.101:41641', TxBytes: 10, RxBytes: 20 }),
    peer({ ID: '7', PublicKey: key(7), HostName: 'gone', DNSName: 'gone.tailnet.test.', TailscaleIPs: ['100.64.0.7'], Online: false, ExitNode: true, ExitNodeOption: true }),
    peer({ ID: '8', PublicKey: key(8), HostName: 'quiet', DNSName: 'quiet.tailnet.test.', TailscaleIPs: ['100.64.0.8'] }),
  ]);
  const r = formatStatus(st);
  assert.equal(r.exitCode, 0);
  assert.deepEqual(Object.fromEntries(columns(r.text)), {
    m1: '-',
    exit: 'active; exit node; direct 198.51.100.70:41641, tx 1500 rx 4200',
    exit2: 'idle; offers exit node',
    gone: 'idle; exit node; offline',
    quiet: '-',
    relayed: 'active; offers exit node; relay "lab2", tx 92 rx 92',
    t1: 'active; direct 198.51.100.101:41641, tx 10 rx 20',
  });
  assert.doesNotMatch(r.text, /# Health check/, 'no health section without warnings');
});

test('status text: the health warnings come last, one "#     - " line each, after a blank line', () => {
  const st = status([peer({ ExitNode: true, ExitNodeOption: true, Active: true, CurAddr: '198.51.100.70:41641' })], {
    Health: ['exit node exit is offline: traffic to the internet is blocked', 'no DERP home: peers behind NATs cannot be reached'],
  });
  const lines = formatStatus(st).text.split('\n');
  assert.deepEqual(lines.slice(-5), [
    '',
    '# Health check:',
    '#     - exit node exit is offline: traffic to the internet is blocked',
    '#     - no DERP home: peers behind NATs cannot be reached',
    '',
  ]);
  assert.match(lines[1]!, /^100\.64\.0\.2\s+b1\s+lab@\s+linux\s+active; exit node; direct 198\.51\.100\.70:41641$/);
});

test('status text while starting: the health warnings before "Meshtray is starting." (exit 1)', () => {
  const r = formatStatus(emptyStatus({ BackendState: 'NoState', Health: ['not connected to the control server'] }));
  assert.deepEqual(r, { text: '# Health check:\n#     - not connected to the control server\n\nMeshtray is starting.\n', exitCode: 1 });
  assert.deepEqual(formatStatus(emptyStatus({ BackendState: 'NoState' })), { text: 'Meshtray is starting.\n', exitCode: 1 });
});

test('status text from a recorded meshtrayd status: exit node in use, health warnings last', () => {
  const rec = StatusSchema.parse(recordedExitNodeStatus);
  assert.equal(Object.values(rec.Peer ?? {}).find((p) => p.ExitNode)?.HostName, 'exit', 'the recording has exit in use');
  const r = formatStatus(rec);
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.text.split('\n').map((l) => l.replace(/ +/g, ' ')), [
    '100.64.0.4 m1 lab@ linux -',
    '100.64.0.2 exit lab@ linux active; exit node; direct 198.51.100.70:41641, tx 444 rx 353',
    '100.64.0.1 sr lab@ linux -',
    '100.64.0.3 t1 lab@ linux -',
    '',
    '# Health check:',
    "# - routes: tunnel route 0.0.0.0/0 (via exit) covers control/DERP server 172.16.0.10; a host throw route keeps that address off the tunnel so Meshtray's own connections cannot loop into it",
    "# - routes: tunnel route 0.0.0.0/0 (via exit) covers control/DERP server 198.51.100.30; a host throw route keeps that address off the tunnel so Meshtray's own connections cannot loop into it",
    '',
  ]);
});
