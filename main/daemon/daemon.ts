// Wires the engine into a process: state store, logger, backend with the real ts2021 control
// client, and the LocalAPI server. Returned handle stops everything (SIGTERM/SIGINT path).
import { hostname, release, machine } from 'node:os';
import { LocalBackend } from '../engine/backend/local-backend.js';
import { ControlClient } from '../engine/control/client.js';
import { LocalApiServer } from '../engine/localapi/server.js';
import { LineLogger, levelFromVerbose } from '../engine/log/logger.js';
import { openStateStore } from '../engine/state/open-state-store.js';
import { systemClock, systemRandom } from '../engine/ports/system.js';
import type { Logger } from '../engine/ports/ports.js';
import type { DaemonFlags } from './flags.js';
import { osDepsFor } from './os-deps.js';
import { DataPath } from '../engine/magicsock/data-path.js';
import { openNativeDataPlane } from '../engine/dataplane/native-data-plane.js';
import type { DataPathFactory } from '../engine/backend/data-path-port.js';

export interface RunningDaemon {
  backend: LocalBackend;
  stop(): Promise<void>;
}

export async function startDaemon(flags: DaemonFlags, version: string, logger?: Logger): Promise<RunningDaemon> {
  const log = logger ?? new LineLogger({ level: levelFromVerbose(flags.verbose) });
  log.info('meshtrayd starting', {
    version,
    state: flags.state ?? null,
    statedir: flags.statedir ?? null,
    socket: flags.socket,
    tun: flags.tun,
    port: flags.port,
  });
  const store = openStateStore({ state: flags.state, statedir: flags.statedir });
  // The data path (TUN named by --tun, UDP on --port) starts with the first netmap after login.
  // userspace-networking has no TUN: that mode stays control-plane only for now.
  // Routes (table 52 + policy rules), the kernel ACL, MagicDNS and resolv.conf: root on Linux only.
  const os = osDepsFor(flags, log.child('os'));
  const dataPath: DataPathFactory | undefined = flags.tun === 'userspace-networking'
    ? undefined
    : (o) => new DataPath({
        nodeKey: o.nodeKey, discoKey: o.discoKey, tunName: flags.tun, port: flags.port, routeAll: o.routeAll,
        // The OS router installs the routes (table 52); the data path adds none of its own then.
        manageRoutes: os === undefined,
        clock: systemClock, random: systemRandom, logger: log.child('engine'),
        openDataPlane: (x) => openNativeDataPlane(x, log.child('dataplane')),
      }, o.netmap);
  const backend = new LocalBackend({
    store,
    clock: systemClock,
    random: systemRandom,
    logger: log.child('backend'),
    controlFactory: (o) => new ControlClient(o),
    hostFacts: { hostname: hostname(), osVersion: release(), version, userspace: flags.tun === 'userspace-networking', machine: machine() },
    version,
    ...(dataPath ? { dataPath } : {}),
    ...(dataPath && os ? { os } : {}),
  });
  await backend.init();
  const server = new LocalApiServer({ socketPath: flags.socket, backend, logger: log.child('localapi') });
  try {
    await server.listen();
  } catch (e) {
    await backend.shutdown();
    throw e;
  }
  let stopping: Promise<void> | undefined;
  return {
    backend,
    stop() {
      stopping ??= (async () => {
        log.info('meshtrayd stopping');
        await server.close();
        await backend.shutdown();
        log.info('meshtrayd stopped');
      })();
      return stopping;
    },
  };
}
