import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileKernelACL, parseACLDrops } from '../../../../main/engine/filter/kernel-acl.js';

test('compile: per-rule chains dispatched by source; ports, ranges, ICMP, other protocols; local-network gate', () => {
  const acl = compileKernelACL(
    [
      { SrcIPs: ['100.64.0.2', '100.64.0.10-100.64.0.20', 'fd7a:115c:a1e0::2', 'cap:x'], DstPorts: [{ IP: '100.64.0.1', Ports: { First: 22, Last: 22 } }, { IP: 'fd7a:115c:a1e0::1', Ports: { First: 8000, Last: 8080 } }] },
      { SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }], IPProto: [47, 17] },
      { SrcIPs: ['*'], SrcBits: [32], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] },
    ],
    ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128', '10.20.0.0/24'],
  );
  assert.deepEqual(acl.v4, [
    { chain: 'mt-acl-r0', rules: [['-d', '100.64.0.1/32', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT'], ['-d', '100.64.0.1/32', '-p', 'udp', '--dport', '22', '-j', 'ACCEPT'], ['-d', '100.64.0.1/32', '-p', 'icmp', '-j', 'ACCEPT']] },
    { chain: 'mt-acl-r1', rules: [['-p', '47', '-j', 'ACCEPT'], ['-p', 'udp', '-j', 'ACCEPT'], ['-p', 'icmp', '-j', 'ACCEPT']] },
    { chain: 'mt-acl-rules', rules: [['-s', '100.64.0.2/32', '-j', 'mt-acl-r0'], ['-m', 'iprange', '--src-range', '100.64.0.10-100.64.0.20', '-j', 'mt-acl-r0'], ['-j', 'mt-acl-r1']] },
    {
      chain: 'mt-acl',
      rules: [
        ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
        ['-p', 'tcp', '!', '--syn', '-j', 'ACCEPT'],
        ['-d', '100.64.0.1/32', '-j', 'mt-acl-rules'],
        ['-d', '100.64.0.1/32', '-m', 'comment', '--comment', 'mt-acl-drop', '-j', 'DROP'],
        ['-d', '10.20.0.0/24', '-j', 'mt-acl-rules'],
        ['-d', '10.20.0.0/24', '-m', 'comment', '--comment', 'mt-acl-drop', '-j', 'DROP'],
        ['-m', 'comment', '--comment', 'mt-not-local-drop', '-j', 'DROP'],
      ],
    },
  ]);
  const r0v6 = acl.v6.find((c) => c.chain === 'mt-acl-r0')!;
  assert.deepEqual(r0v6.rules[0], ['-d', 'fd7a:115c:a1e0::1/128', '-p', 'tcp', '--dport', '8000:8080', '-j', 'ACCEPT']);
  assert.ok(r0v6.rules.some((r) => r.includes('ipv6-icmp')));
  assert.deepEqual(acl.skipped, ['rule 0: source cap:x (capabilities are not visible to the kernel)']);
});

test('no filter yet (shields up): only replies and established flows, everything else dropped', () => {
  const acl = compileKernelACL(undefined, ['100.64.0.1/32']);
  assert.deepEqual(acl.v4.find((c) => c.chain === 'mt-acl-rules')!.rules, []);
});

test('drop counters are read from iptables -nvxL output', () => {
  const out = `Chain mt-acl (2 references)
    pkts      bytes target     prot opt in     out     source               destination
      10      600 ACCEPT     all  --  *      *       0.0.0.0/0            0.0.0.0/0            ctstate RELATED,ESTABLISHED
       3      180 mt-acl-rules  all  --  *      *       0.0.0.0/0            100.64.0.1
       2      120 DROP       all  --  *      *       0.0.0.0/0            100.64.0.1           /* mt-acl-drop */
       1       60 DROP       all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* mt-not-local-drop */
`;
  assert.deepEqual(parseACLDrops(out), { acl: 2, notLocal: 1 });
});
