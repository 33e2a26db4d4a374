// Runs inside a lab namespace: one netcheck against the DERP map given as argv[2] (JSON), prints
// the `tailscale netcheck --format=json`-shaped report on stdout. With argv[3] = "derp" it also
// connects a DERP client to the home region and reports whether the handshake completed.
import { DerpClient } from '../../../main/engine/derp/client.js';
import { tlsDialer } from '../../../main/engine/derp/dial.js';
import type { DerpMap } from '../../../main/engine/derp/derp-map.js';
import { PrivateKey } from '../../../main/engine/keys/keys.js';
import { Netcheck } from '../../../main/engine/netcheck/netcheck.js';
import { toTailscaleJSON } from '../../../main/engine/netcheck/report.js';
import { UdpStunSocket } from '../../../main/engine/netcheck/udp-socket.js';
import { logger, realClock, systemRandomForTests } from './support.js';

const map = JSON.parse(process.argv[2] ?? '{}') as DerpMap;
const random = systemRandomForTests();
const nc = new Netcheck({ clock: realClock, random, logger: logger('netcheck') });
// Port 41641 as tailscaled would use; MESHTRAY_AGENT_PORT overrides (e.g. 0 when tailscaled holds 41641).
const port = Number(process.env.MESHTRAY_AGENT_PORT ?? 41641);
const sock = await UdpStunSocket.open(nc, port);
const report = await nc.run(map, sock, { httpsFallback: tlsDialer(realClock) });
const localPort = sock.localPort;
await sock.close();
const out: Record<string, unknown> = { report: toTailscaleJSON(report), localPort };
if (process.argv[3] === 'derp') {
  const regionId = report.preferredDERP || Number(Object.keys(map.Regions ?? {})[0]);
  const region = map.Regions![String(regionId)]!;
  const c = new DerpClient({ region, nodeKey: PrivateKey.generate('node', random), clock: realClock, random, logger: logger('derp') });
  c.start();
  const t0 = Date.now();
  while (c.state !== 'connected' && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  out.derp = { region: regionId, state: c.state, rttMs: c.state === 'connected' ? await c.ping() : undefined };
  await c.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
