// The Linux router on a real kernel, in a namespace of our own: it installs addresses, table-52
// routes, throw routes, the fwmark policy rules and its iptables chains; the kernel then routes as
// intended (tunnel for the tailnet and the exit node, main table for marked engine traffic and
// for the LAN with allow-LAN-access); restore leaves `ip rule`, table 52, addresses and
// iptables-save exactly as before; a SIGKILLed router's leftovers are repaired by the next start.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinuxRouter } from '../../../main/engine/router/linux.js';
import { fileRouterState, nodeCommandRunner } from '../../../main/engine/router/node-runner.js';
import type { RouterConfig } from '../../../main/engine/router/router.js';
import { netnsSkip, NsWorker, TestNs } from './support.js';

const skip = netnsSkip('Linux router netns e2e');

const TUN = 'meshtray0';
const CFG: RouterConfig = {
  tunName: TUN,
  mtu: 1280,
  localAddrs: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'],
  routes: ['0.0.0.0/0', '100.64.0.2/32', '100.100.100.100/32', '10.20.0.0/24', '::/0', 'fd7a:115c:a1e0::/48', 'fd7a:115c:a1e0::53/128'],
  localRoutes: ['192.168.77.0/24'],
  forwarding: { enabled: true, snat: true, statefulFiltering: false },
  netfilter: 'on',
};

/** Everything the router may touch, normalised (iptables counters vary with traffic). */
function snapshot(ns: TestNs): string {
  const parts = [
    ns.sh(['ip', '-4', 'rule', 'show']).stdout,
    ns.sh(['ip', '-6', 'rule', 'show']).stdout,
    // An empty table and a table that was never created read the same (the kernel keeps an emptied FIB table).
    ns.sh(['ip', '-4', 'route', 'show', 'table', '52'], { allowFail: true }).stdout,
    ns.sh(['ip', '-6', 'route', 'show', 'table', '52'], { allowFail: true }).stdout,
    // (the kernel attaches a default qdisc the first time a link goes up; that is not our state)
    ns.sh(['ip', 'addr', 'show', 'dev', TUN]).stdout.replace(/valid_lft.*$/gm, '').replace(/qdisc \S+ /, ''),
    ns.sh(['iptables-save']).stdout,
    ns.sh(['ip6tables-save']).stdout,
    ns.sh(['sysctl', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']).stdout,
  ];
  return parts.join('\n----\n').replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '[]');
}

describe('Linux router in a network namespace', { skip, timeout: 120_000 }, () => {
  let ns: TestNs;
  let dir: string;
  let before0: string;

  before(() => {
    ns = new TestNs('rt');
    dir = mkdtempSync(join(tmpdir(), 'mt-router-'));
    // A LAN (eth0 stand-in with a default route) and a persistent TUN the router configures.
    // (this kernel has no dummy driver: a veth pair with both ends here stands in for the LAN NIC)
    ns.sh(['ip', 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan0p']);
    ns.sh(['ip', 'addr', 'add', '192.168.77.2/24', 'dev', 'lan0']);
    ns.sh(['ip', 'link', 'set', 'lan0', 'up']);
    ns.sh(['ip', 'link', 'set', 'lan0p', 'up']);
    ns.sh(['ip', 'route', 'add', 'default', 'via', '192.168.77.1']);
    ns.sh(['ip', 'tuntap', 'add', 'dev', TUN, 'mode', 'tun']);
    // Create the tables once, as on any host that uses iptables, so iptables-save lists them before
    // and after (an empty table staying behind is not state we own).
    for (const ipt of ['iptables', 'ip6tables']) {
      for (const t of ['filter', 'nat', 'mangle']) {
        ns.sh([ipt, '-w', '-t', t, '-N', 'mt-probe']);
        ns.sh([ipt, '-w', '-t', t, '-X', 'mt-probe']);
      }
    }
    before0 = snapshot(ns);
  });
  after(() => {
    ns?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs, routes as intended, and restores to exactly the previous state', async () => {
    const stateFile = join(dir, 'state.json');
    const r = new LinuxRouter({ runner: nodeCommandRunner({ prefix: ['ip', 'netns', 'exec', ns.name] }), state: fileRouterState(stateFile), ipv6: true });
    await r.set(CFG);
    const rules = ns.sh(['ip', '-4', 'rule', 'show']).stdout;
    assert.match(rules, /^5210:\s+from all fwmark 0x80000\/0xff0000 lookup main/m);
    assert.match(rules, /^5230:\s+from all fwmark 0x80000\/0xff0000 lookup default/m);
    assert.match(rules, /^5250:\s+from all fwmark 0x80000\/0xff0000 unreachable/m);
    assert.match(rules, /^5270:\s+from all lookup 52/m);
    assert.match(ns.sh(['ip', '-4', 'route', 'show', 'table', '52']).stdout, /^throw 192\.168\.77\.0\/24/m);
    // What the kernel decides now:
    const get = (args: string[]) => ns.sh(['ip', 'route', 'get', ...args]).stdout;
    assert.match(get(['203.0.113.80']), /dev meshtray0 table 52/, 'internet → exit node (tunnel)');
    assert.match(get(['203.0.113.80', 'mark', '0x80000']), /via 192\.168\.77\.1 dev lan0/, 'engine traffic (bypass mark) → real default route');
    assert.match(get(['192.168.77.5']), /dev lan0/, 'LAN via throw route → main table');
    assert.match(get(['100.64.0.2']), /dev meshtray0 table 52/);
    assert.match(get(['10.20.0.9']), /dev meshtray0 table 52/);
    assert.match(ns.sh(['ip', '-6', 'route', 'get', '2001:db8::1']).stdout, /dev meshtray0 table 52/);
    assert.match(ns.sh(['ip', 'addr', 'show', 'dev', TUN]).stdout, /inet 100\.64\.0\.1\/32/);
    assert.match(ns.sh(['ip', 'link', 'show', 'dev', TUN]).stdout, /mtu 1280/);
    const ipt = ns.sh(['iptables-save']).stdout;
    assert.match(ipt, /-A FORWARD -j mt-forward/);
    assert.match(ipt, /-A mt-postrouting -m mark --mark 0x40000\/0xff0000 -j MASQUERADE/);
    assert.match(ipt, /-A mt-mss -o meshtray0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu/);
    assert.equal(ns.sh(['sysctl', '-n', 'net.ipv4.ip_forward']).stdout.trim(), '1');
    // an update (exit node cleared, no forwarding) then restore
    await r.set({ ...CFG, routes: ['100.64.0.2/32', '100.100.100.100/32'], localRoutes: [], forwarding: { enabled: false, snat: true, statefulFiltering: false } });
    assert.match(get(['203.0.113.80']), /via 192\.168\.77\.1 dev lan0/, 'exit node cleared → direct again');
    assert.doesNotMatch(ns.sh(['iptables-save']).stdout, /mt-forward/);
    await r.restore();
    assert.equal(snapshot(ns), before0);
    assert.equal(existsSync(stateFile), false);
    await r.restore(); // idempotent
    assert.equal(snapshot(ns), before0);
  });

  it('a SIGKILLed router leaves state behind; the next start repairs it exactly', async () => {
    const stateFile = join(dir, 'state-kill.json');
    const w = await NsWorker.start(ns.name, 'router-worker', [stateFile]);
    await w.call('set', { cfg: CFG });
    await w.kill('SIGKILL');
    assert.notEqual(snapshot(ns), before0, 'the killed process left its rules behind');
    assert.ok(existsSync(stateFile));
    const next = new LinuxRouter({ runner: nodeCommandRunner({ prefix: ['ip', 'netns', 'exec', ns.name] }), state: fileRouterState(stateFile), ipv6: true });
    await next.repair();
    assert.equal(snapshot(ns), before0);
    assert.equal(existsSync(stateFile), false);
  });
});
