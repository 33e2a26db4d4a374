// The engine hosted inside the app process (README: desktop hosts without a running meshtrayd):
// the same LocalBackend the daemon runs, with the real ts2021 control client, and the app's
// keychain-backed StateStore. Calls go through the contract's schemas exactly as over the
// LocalAPI socket, so the window and tray behave the same in both hosts.
// With the privileged helper, the OS side is wired like meshtrayd's (main/daemon/daemon.ts +
// os-deps.ts), except that what needs root goes to the helper: the TUN and the bypass-marked UDP
// socket arrive as descriptors, routes/rules/kernel ACL and resolv.conf are set by it. quad-100 is
// answered from the TUN (the data plane's intercept), since the app cannot bind port 53.
// Without the helper: control plane only, and a health line says why.
import { hostname, machine, release } from 'node:os';
import type { ApiName, ApiRequest, ApiResponse } from '../../../common/contract/api.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Notify } from '../../../common/schemas/notify.js';
import { LocalBackend } from '../../engine/backend/local-backend.js';
import type { DataPathFactory, DataPathPort } from '../../engine/backend/data-path-port.js';
import type { OSDeps } from '../../engine/backend/os-wiring.js';
import { ControlClient } from '../../engine/control/client.js';
import type { DataPlane, DataPlaneOptions } from '../../engine/dataplane/data-plane.js';
import { openNativeDataPlane } from '../../engine/dataplane/native-data-plane.js';
import { QUAD100, QUAD100_V6 } from '../../engine/dns/dns-config.js';
import { Quad100Intercept } from '../../engine/dns/intercept.js';
import { MagicDNSResolver } from '../../engine/dns/resolver.js';
import { nodeUpstream } from '../../engine/dns/upstream.js';
import type { LocalApiBackend } from '../../engine/localapi/server.js';
import { invokeBackend } from '../../engine/localapi/invoke.js';
import { DataPath, TUN_MTU } from '../../engine/magicsock/data-path.js';
import type { Logger, StateStore } from '../../engine/ports/ports.js';
import { systemClock, systemRandom } from '../../engine/ports/system.js';
import { HELPER_PROTOCOL_VERSION } from '../helper/helper-contract.js';
import { HelperClient, type HelperTunFds } from '../helper/helper-client.js';
import { loadNativeFdApi, type NativeFdApi } from '../helper/native-fds.js';
import { DeferredDataPath } from './deferred-data-path.js';
import type { EngineConnection } from './engine-connection.js';
import { HelperResolvConf, HelperRouter } from './helper-os.js';

/** Health lines of the host itself (no helper, the helper went away, the TUN could not be had). */
export class HostHealth {
  private lines: string[] = [];
  private readonly listeners = new Set<() => void>();

  get current(): readonly string[] {
    return this.lines;
  }
  set(line: string, on: boolean): void {
    const has = this.lines.includes(line);
    if (has === on) return;
    this.lines = on ? [...this.lines, line] : this.lines.filter((l) => l !== line);
    this.listeners.forEach((f) => f());
  }
  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
}

/** An EngineConnection straight onto a backend object (no socket), validating both directions. */
export function backendConnection(backend: LocalApiBackend, hostHealth?: HostHealth): EngineConnection {
  const extra = (): readonly string[] => hostHealth?.current ?? [];
  return {
    async call<N extends ApiName>(name: N, request: ApiRequest<N>): Promise<ApiResponse<N>> {
      // The same contract checks as over the LocalAPI socket (schemas both ways, missing optional call).
      const data = await invokeBackend(backend, name, request);
      if (name === 'status' && extra().length) {
        const st = data as { Health: string[] | null };
        return { ...st, Health: [...(st.Health ?? []), ...extra()] } as ApiResponse<N>;
      }
      return data as ApiResponse<N>;
    },
    watch(signal: AbortSignal): AsyncIterable<Notify> {
      return {
        [Symbol.asyncIterator](): AsyncIterator<Notify> {
          const queue: Notify[] = [];
          let wake: (() => void) | undefined;
          // The backend's own health lines as last seen, so a host line can be added or dropped alone.
          let backendHealth: readonly string[] = [];
          const unwatch = backend.watch((n) => {
            // The renderer takes health from either place (renderer/store/engine-store.ts).
            if (n.Health !== undefined) {
              backendHealth = n.Health;
              n = { ...n, Health: [...n.Health, ...extra()] };
            }
            if (n.Status) {
              backendHealth = n.Status.Health ?? [];
              if (extra().length) n = { ...n, Status: { ...n.Status, Health: [...backendHealth, ...extra()] } };
            }
            queue.push(n);
            wake?.();
          });
          const unhealth = hostHealth?.onChange(() => {
            queue.push({ Health: [...backendHealth, ...extra()] });
            wake?.();
          });
          const unsubscribe = (): void => {
            unwatch();
            unhealth?.();
          };
          const onAbort = (): void => wake?.();
          signal.addEventListener('abort', onAbort, { once: true });
          return {
            async next(): Promise<IteratorResult<Notify>> {
              for (;;) {
                if (signal.aborted) {
                  unsubscribe();
                  return { value: undefined, done: true };
                }
                const n = queue.shift();
                if (n) return { value: n, done: false };
                await new Promise<void>((r) => (wake = r));
                wake = undefined;
              }
            },
            async return(): Promise<IteratorResult<Notify>> {
              unsubscribe();
              signal.removeEventListener('abort', onAbort);
              return { value: undefined, done: true };
            },
          };
        },
      };
    },
  };
}

export interface InProcessEngine {
  engine: EngineConnection;
  backend: LocalBackend;
  hostHealth: HostHealth;
  /** Whether this engine carries traffic (the helper answered and hands out the TUN). */
  carriesTraffic: boolean;
  /** Whether the helper holds our session now (it restores the OS if this process dies). */
  helperSessionHeld(): boolean;
  stop(): Promise<void>;
}

export interface InProcessEngineOptions {
  store: StateStore;
  log: Logger;
  version: string;
  /** The privileged helper's socket; undefined = not installed (control plane only). */
  helperSocketPath?: string | undefined;
  /** Why there is no helper (host-choice's reason), for the health line. */
  noHelperReason?: string;
  /** TUN name (default meshtray0; the helper only accepts meshtray…). */
  tunName?: string;
  /** Test seam: the native descriptor functions. */
  native?: () => NativeFdApi;
}

/** Health line when the engine cannot carry traffic. */
export function controlPlaneOnlyLine(why: string): string {
  return `this device can log in and see the tailnet but cannot carry traffic: ${why}`;
}

export async function startInProcessEngine(o: InProcessEngineOptions): Promise<InProcessEngine> {
  const hostHealth = new HostHealth();
  const log = o.log;
  const tunName = o.tunName ?? 'meshtray0';
  let helperParts: HelperParts | undefined;
  if (o.helperSocketPath) {
    try {
      helperParts = await connectHelper(o.helperSocketPath, tunName, log, hostHealth, o.native ?? loadNativeFdApi);
    } catch (e) {
      const why = `the privileged helper at ${o.helperSocketPath} cannot be used (${e instanceof Error ? e.message : String(e)})`;
      log.warn('engine host: control plane only', { why });
      hostHealth.set(controlPlaneOnlyLine(why), true);
    }
  } else {
    hostHealth.set(controlPlaneOnlyLine(o.noHelperReason ?? 'the privileged helper is not installed'), true);
  }
  const backend = new LocalBackend({
    store: o.store,
    clock: systemClock,
    random: systemRandom,
    logger: log.child('backend'),
    controlFactory: (c) => new ControlClient(c),
    hostFacts: { hostname: hostname(), osVersion: release(), version: o.version, userspace: !helperParts, machine: machine() },
    version: o.version,
    ...(helperParts ? { dataPath: helperParts.dataPath, os: helperParts.os } : {}),
  });
  await backend.init();
  let stopping: Promise<void> | undefined;
  return {
    engine: backendConnection(backend, hostHealth),
    backend,
    hostHealth,
    carriesTraffic: !!helperParts,
    helperSessionHeld: () => helperParts?.sessionHeld() ?? false,
    stop: () =>
      (stopping ??= (async () => {
        // The backend restores routes and DNS through the helper before its data path closes;
        // then the session ends (the helper would restore anyway if we died before this).
        await backend.shutdown();
        helperParts?.release();
      })()),
  };
}

/**
 * Checks the helper (protocol version, a session it will restore on), and builds the data path
 * factory and OS ports on it.
 */
/** How often to try holding a new session after the helper went away. */
const SESSION_RETRY_MS = 2_000;

interface HelperParts {
  dataPath: DataPathFactory;
  os: OSDeps;
  sessionHeld(): boolean;
  release(): void;
}

async function connectHelper(socketPath: string, tunName: string, log: Logger, hostHealth: HostHealth, native: () => NativeFdApi): Promise<HelperParts> {
  const helper = new HelperClient(socketPath, 30_000, native);
  const version = await helper.hello();
  if (version < HELPER_PROTOCOL_VERSION) throw new MeshtrayError('ERR_INTERNAL', `it speaks protocol ${version}, this app needs ${HELPER_PROTOCOL_VERSION} (update the helper)`);
  native(); // the addon must be there to receive the descriptors: fail now, with the reason, not at login
  const lostLine = 'the privileged helper went away; routes and DNS were restored by it, reconnect to carry traffic again';
  // The session: while it is held, the helper restores everything if this process dies. If the
  // helper restarts, it has restored (and removed our TUN): say so, and hold a new session as soon
  // as it is back, so the next Connect is protected again.
  let session: { release(): void } | undefined;
  let stopped = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const onEnd = (why: string): void => {
    session = undefined;
    log.warn('engine host: helper session ended', { why });
    hostHealth.set(lostLine, true);
    const again = (): void => {
      retry = undefined;
      if (stopped) return;
      helper.holdSession(onEnd).then(
        (s) => {
          if (stopped) return s.release();
          session = s;
          log.info('engine host: helper session held again');
        },
        () => (retry = setTimeout(again, SESSION_RETRY_MS)),
      );
    };
    retry = setTimeout(again, SESSION_RETRY_MS);
  };
  session = await helper.holdSession(onEnd);
  const resolver = new MagicDNSResolver({ upstream: nodeUpstream, logger: log.child('dns') });
  const intercept = new Quad100Intercept(resolver);
  let current: DeferredDataPath | undefined;
  const failedLine = (e: Error): string => `the data plane could not start: ${e.message}`;
  let lastFailure: string | undefined;
  const router = new HelperRouter(helper, () => (current ? current.ready : Promise.reject(new MeshtrayError('ERR_NOT_FOUND', 'no data path (TUN) yet'))));
  const dataPath: DataPathFactory = (d) => {
    if (lastFailure) hostHealth.set(lastFailure, false);
    // A new data path from a helper that holds our session again: the old warning is history.
    if (session) hostHealth.set(lostLine, false);
    const path = new DeferredDataPath(
      () => openHelperDataPath(helper, native, { ...d, tunName, log, intercept }),
      d.netmap,
      (e) => {
        log.error('engine host: the data path failed to start', { err: e.message });
        lastFailure = failedLine(e);
        hostHealth.set(lastFailure, true);
      },
    );
    current = path;
    return path;
  };
  const os: OSDeps = {
    router,
    osDNS: new HelperResolvConf(helper),
    upstream: nodeUpstream,
    tunName,
    quad100: 'intercept',
    resolver,
  };
  return {
    dataPath,
    os,
    sessionHeld: () => session !== undefined,
    release: () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      session?.release();
      session = undefined;
    },
  };
}

async function openHelperDataPath(
  helper: HelperClient,
  native: () => NativeFdApi,
  o: Parameters<DataPathFactory>[0] & { tunName: string; log: Logger; intercept: Quad100Intercept },
): Promise<DataPathPort> {
  const addrs = o.netmap.self?.Addresses ?? [];
  const v4 = addrs.filter((a) => !a.includes(':')).slice(0, 1);
  const fds: HelperTunFds = await helper.openTun({ name: o.tunName, mtu: TUN_MTU, addresses: [...v4, ...addrs.filter((a) => a.includes(':'))].slice(0, 4), port: 0 });
  let adopted = false;
  try {
    return new DataPath(
      {
        nodeKey: o.nodeKey, discoKey: o.discoKey, tunName: fds.name, port: fds.port, routeAll: o.routeAll,
        // The helper's router installs routes and addresses; this process has no rights to.
        manageRoutes: false,
        ip: () => ({ ok: true }),
        clock: systemClock, random: systemRandom, logger: o.log.child('engine'),
        openDataPlane: (x) => {
          const opts: DataPlaneOptions & { tunFd: number; udpFd: number; tunOffload: boolean } = {
            ...x, tunFd: fds.tunFd, udpFd: fds.udpFd, tunOffload: fds.offload, intercept: [QUAD100, QUAD100_V6],
          };
          const dp: DataPlane = openNativeDataPlane(opts, o.log.child('dataplane'));
          adopted = true;
          // quad-100 (tailscale net/tstun/wrap.go): DNS queries to 100.100.100.100 arrive from the
          // TUN and are answered into it.
          dp.onIntercept((pkt) => {
            void (async () => {
              try {
                const reply = await o.intercept.answer(pkt);
                // An answer from upstream may come back after Disconnect closed this data plane.
                if (reply) dp.writeToTun(reply);
              } catch (e) {
                o.log.warn('dns: answering an intercepted query failed', { err: e instanceof Error ? e.message : String(e) });
              }
            })();
          });
          return dp;
        },
      },
      o.netmap,
    );
  } catch (e) {
    if (!adopted) {
      const api = native();
      for (const fd of [fds.tunFd, fds.udpFd]) {
        try {
          api.closeFd(fd);
        } catch {
          /* already closed */
        }
      }
    }
    throw e;
  }
}
