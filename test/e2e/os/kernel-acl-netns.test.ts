// The packet filter enforced by the kernel (filter/kernel-acl.ts through the Linux router) on real
// traffic: a "peer" namespace reaches our node over a veth that plays the tunnel. A policy that
// allows only tcp/8080 from the peer: :8080 answers, :8081 does not and the drop is counted, ping
// passes (a rule reaches the address), replies to our own UDP flow pass although no rule admits
// UDP from the peer; restore leaves iptables exactly as before.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileKernelACL } from '../../../main/engine/filter/kernel-acl.js';
import { localNetsFor } from '../../../main/engine/filter/filter.js';
import { LinuxRouter } from '../../../main/engine/router/linux.js';
import { fileRouterState, nodeCommandRunner } from '../../../main/engine/router/node-runner.js';
import type { RouterConfig } from '../../../main/engine/router/router.js';
import type { FilterRule } from '../../../main/engine/netmap/tailcfg.js';
import { netnsSkip, shAsync, TestNs } from './support.js';

const skip = netnsSkip('kernel ACL netns e2e');
const TUN = 'mt-tun0';
const ME = '100.64.0.1';
const PEER = '100.64.0.2';
const RULES: FilterRule[] = [{ SrcIPs: [`${PEER}/32`], DstPorts: [{ IP: ME, Ports: { First: 8080, Last: 8080 } }] }];

describe('kernel packet filter in network namespaces', { skip, timeout: 120_000 }, () => {
  let node: TestNs;
  let peer: TestNs;
  let dir: string;
  const procs: ChildProcess[] = [];
  const iptSave = () => node.sh(['iptables-save']).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '[]');

  before(() => {
    node = new TestNs('acl-n');
    peer = new TestNs('acl-p');
    dir = mkdtempSync(join(tmpdir(), 'mt-acl-'));
    node.sh(['ip', 'link', 'add', TUN, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer.name]);
    node.sh(['ip', 'link', 'set', TUN, 'up']);
    peer.sh(['ip', 'addr', 'add', `${PEER}/32`, 'dev', 'eth0']);
    peer.sh(['ip', 'link', 'set', 'eth0', 'up']);
    peer.sh(['ip', 'route', 'add', `${ME}/32`, 'dev', 'eth0']);
    for (const t of ['filter', 'nat', 'mangle']) {
      node.sh(['iptables', '-w', '-t', t, '-N', 'mt-probe']);
      node.sh(['iptables', '-w', '-t', t, '-X', 'mt-probe']);
    }
    // services on the node, and a UDP echo on the peer
    for (const [ns, code] of [
      [node.name, "for (const p of [8080, 8081]) require('http').createServer((q, s) => s.end('port ' + p)).listen(p)"],
      [peer.name, "const d=require('dgram').createSocket('udp4');d.on('message',(m,r)=>d.send(m,r.port,r.address));d.bind(7000)"],
    ] as const) {
      procs.push(spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: 'ignore' }));
    }
  });
  after(() => {
    for (const p of procs) p.kill('SIGKILL');
    node?.cleanup();
    peer?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('allows only what the policy says, keeps replies, counts drops, and restores exactly', async () => {
    const before0 = iptSave();
    const router = new LinuxRouter({ runner: nodeCommandRunner({ prefix: ['ip', 'netns', 'exec', node.name] }), state: fileRouterState(join(dir, 'state.json')), ipv6: false });
    const cfg: RouterConfig = {
      tunName: TUN,
      mtu: 1280,
      localAddrs: [`${ME}/32`],
      routes: [`${PEER}/32`],
      localRoutes: [],
      forwarding: { enabled: false, snat: true, statefulFiltering: false },
      netfilter: 'on',
      acl: compileKernelACL(RULES, localNetsFor([`${ME}/32`], [], [], []).prefixes()),
    };
    await router.set(cfg);
    await new Promise((r) => setTimeout(r, 300)); // listeners up
    const curl = (port: number) => shAsync(['curl', '-s', '--max-time', '3', `http://${ME}:${port}/`], { ns: peer.name, timeoutMs: 10_000 });
    assert.equal((await curl(8080)).stdout, 'port 8080');
    const denied = await curl(8081);
    assert.notEqual(denied.code, 0);
    assert.equal(denied.stdout, '');
    assert.equal((await shAsync(['ping', '-c', '1', '-W', '2', ME], { ns: peer.name })).code, 0, 'ICMP passes: a rule reaches the address');
    // Our own UDP flow to the peer: its reply passes although no rule admits UDP from the peer.
    const udp = await shAsync(
      [process.execPath, '-e', `const d=require('dgram').createSocket('udp4');d.on('message',m=>{console.log(String(m));process.exit(0)});d.send('hello',7000,'${PEER}');setTimeout(()=>process.exit(3),3000)`],
      { ns: node.name },
    );
    assert.equal(udp.stdout.trim(), 'hello');
    // ...but the peer cannot start UDP to us.
    const inbound = await shAsync([process.execPath, '-e', `const d=require('dgram').createSocket('udp4');d.send('x',9999,'${ME}',()=>setTimeout(()=>process.exit(0),200))`], { ns: peer.name });
    assert.equal(inbound.code, 0);
    const drops = await router.aclDrops();
    assert.ok(drops.acl >= 2, `drops counted: ${JSON.stringify(drops)}`);
    // A rule change (port 8081 allowed instead) takes effect without a restart.
    await router.set({ ...cfg, acl: compileKernelACL([{ SrcIPs: [PEER], DstPorts: [{ IP: ME, Ports: { First: 8081, Last: 8081 } }] }], [`${ME}/32`]) });
    assert.equal((await curl(8081)).stdout, 'port 8081');
    assert.notEqual((await curl(8080)).code, 0);
    // Shields up / no filter yet: nothing new gets in.
    await router.set({ ...cfg, acl: compileKernelACL(undefined, [`${ME}/32`]) });
    assert.notEqual((await curl(8081)).code, 0);
    await router.restore();
    assert.equal(iptSave(), before0);
    assert.doesNotMatch(node.sh(['ip', 'addr', 'show', 'dev', TUN]).stdout, /100\.64\.0\.1/, 'our address went with the rest');
  });
});
