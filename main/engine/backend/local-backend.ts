// The engine's single owner of state (tailscale's ipn/ipnlocal LocalBackend): prefs, the login
// state machine, the keys, the netmap, and the Notify bus. Everything else (the LocalAPI, the app,
// tests) calls its methods or subscribes; nothing else mutates this state. The work is done by
// pieces with one job each, which report back through hooks so that state changes and Notify
// events still happen here, in one place:
//   login.ts           the login's node keys (current, old, being tried) and their persistence
//   register.ts        registration: auth key, interactive AuthURL + followup, expired-key rotation
//   map-session.ts     the streaming map poll: backoff, watchdog, bad messages, key expiry, 404
//   data-path-host.ts  the data path per node key, and the OS apply that feeds its AllowedIPs
//   lite-updates.ts    endpoint / Hostinfo lite updates between polls
//
// Flow (control.md §6.8, tailscale control/controlclient/auto.go):
//   start → register (auth key, or interactive: AuthURL → BrowseToURL → followup long-poll)
//         → map poll (Stream:true) forever, reconnecting with backoff + jitter after ANY failure
//   404 from the map poll or a self key expiry → register again (rotating the node key when expired)
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { ApiRequest, ApiResponse } from '../../../common/contract/api.js';
import type { Notify } from '../../../common/schemas/notify.js';
import { defaultPrefs, type MaskedPrefs, type Prefs } from '../../../common/schemas/prefs.js';
import type { BackendState, Status } from '../../../common/schemas/status.js';
import { PrivateKey } from '../keys/keys.js';
import type { Clock, Logger, Random, StateStore } from '../ports/ports.js';
import type { Hostinfo, MapRequest } from '../control/messages.js';
import { NetMap, type NetNode } from '../netmap/netmap.js';
import type { LocalApiBackend } from '../localapi/server.js';
import type { ControlClientFactory, ControlClientPort } from './control-port.js';
import { buildHostinfo, withNetInfo, type HostFacts } from './hostinfo.js';
import { NotifyBus } from './notify-bus.js';
import { loadOrCreateMachineKey, loadPrefs, savePrefs } from './profile.js';
import { LoginKeys } from './login.js';
import { buildStatus } from './status-builder.js';
import type { DataPathFactory } from './data-path-port.js';
import { controlAndDerpIPs, exitNodePrefs, OSWiring, type OSDeps } from './os-wiring.js';
import type { PeerPath } from '../routes/why.js';
import { toTailscaleJSON } from '../netcheck/report.js';
import type { DerpMap } from '../derp/derp-map.js';
import { regionsOf } from '../derp/derp-map.js';
import { newBackendCounters, type BackendCounters } from './counters.js';
import { controlNow } from './key-expiry.js';
import { buildMapRequest } from './map-request.js';
import { MAP_WATCHDOG_MS, MapSession } from './map-session.js';
import { DataPathHost } from './data-path-host.js';
import { LiteUpdates } from './lite-updates.js';
import { logoutAtControl, registerUntilLoggedIn, type RegisterHost } from './register.js';
import { DEFAULT_CONTROL_URL, mergePrefs, upEdits } from './prefs-edit.js';
import { advertisesExitNode, EXIT_NODE_BOTH_REFUSED, usesExitNode } from '../../../common/prefs/exit-node-prefs.js';

// Re-exported: they were born here and hosts may name them from this module.
export { DEFAULT_CONTROL_URL } from './prefs-edit.js';
export { MAP_WATCHDOG_MS } from './map-session.js';
export type { BackendCounters } from './counters.js';

export interface LocalBackendOptions {
  store: StateStore;
  clock: Clock;
  random: Random;
  logger: Logger;
  controlFactory: ControlClientFactory;
  hostFacts: HostFacts;
  /** Meshtray version (Status.Version, Notify.Version). */
  version: string;
  statusIntervalMs?: number;
  watchdogMs?: number;
  /** Whether a data plane is attached (Status.TUN) when no dataPath factory is given. */
  tun?: boolean;
  /** Creates the data path (TUN, WireGuard, DERP, magicsock) once logged in; absent = control plane only. */
  dataPath?: DataPathFactory;
  /**
   * The OS integration (issue 6: routes in table 52, exit node, LAN access, MagicDNS on quad-100,
   * the OS resolver, the packet filter in the kernel). Absent = leave the OS alone. Needs dataPath.
   */
  os?: OSDeps;
}

const NOT_CONNECTED = 'not connected to the control server';
const DATA_PLANE_FAILED = 'data plane failed to start';

export class LocalBackend implements LocalApiBackend {
  private readonly log: Logger;
  private readonly store: StateStore;
  private readonly clock: Clock;
  private readonly random: Random;
  private prefs: Prefs = defaultPrefs();
  private state: BackendState = 'NoState';
  private machineKey: PrivateKey<'machine'> | undefined;
  /** The login's node keys (current, old, being tried) and their persistence. */
  private readonly keys: LoginKeys;
  private readonly discoKey: PrivateKey<'disco'>;
  private authURL = '';
  private loggedIn = false;
  private netmapLive = false;
  /** A map stream is delivering right now (false while reconnecting; the last good netmap stays). */
  private inMapPoll = false;
  private readonly netmap: NetMap;
  private hasNetmap = false;
  private control: { url: string; client: ControlClientPort } | undefined;
  private session: AbortController | undefined;
  private health = new Set<string>();
  private readonly bus: NotifyBus;
  private closed = false;
  private readonly os: OSWiring | undefined;
  /** Health lines of the OS integration (apply errors, route warnings), shown beside ours. */
  private osHealth: readonly string[] = [];
  private readonly paths: DataPathHost;
  private readonly lite: LiteUpdates;
  private readonly mapSession: MapSession;
  private readonly registerHost: RegisterHost;
  readonly counters: BackendCounters = newBackendCounters();

  constructor(private readonly opts: LocalBackendOptions) {
    this.log = opts.logger;
    this.store = opts.store;
    this.clock = opts.clock;
    this.random = opts.random;
    // The disco key is new every process start (tailscale magicsock), never persisted.
    this.discoKey = PrivateKey.generate('disco', this.random);
    this.netmap = new NetMap({ clock: this.clock });
    this.keys = new LoginKeys(this.store, this.random, this.log);
    this.bus = new NotifyBus(
      this.clock,
      () => ({ Version: this.opts.version, State: this.state, Prefs: { ...this.prefs }, Status: this.buildStatus() }),
      () => this.buildStatus(),
      this.log,
      opts.statusIntervalMs ?? 250,
    );
    if (opts.os) {
      this.os = new OSWiring({
        ...opts.os,
        clock: this.clock,
        logger: this.log.child('os'),
        // Our control and DERP sockets are Node sockets without the bypass mark: keep them off the tunnel.
        controlIPs: () => controlAndDerpIPs(this.prefs.ControlURL, this.currentNetMap),
        onHealth: (lines) => {
          this.osHealth = lines;
          this.bus.publish({ Health: [...this.health, ...this.osHealth] });
          this.bus.statusChanged();
        },
      });
    }
    this.paths = this.newDataPathHost();
    this.lite = new LiteUpdates({
      clock: this.clock,
      random: this.random,
      logger: this.log,
      counters: this.counters,
      client: () => this.controlClient(),
      request: () => this.mapRequest(false),
    });
    this.mapSession = this.newMapSession();
    this.registerHost = this.newRegisterHost();
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Loads keys and prefs; resumes the login if one is stored and the node was running. */
  async init(): Promise<void> {
    this.machineKey = await loadOrCreateMachineKey(this.store, this.random, this.log);
    this.prefs = await loadPrefs(this.store, this.log);
    await this.keys.load();
    this.log.info('backend: loaded state', {
      machineKey: this.machineKey.public.toString(),
      nodeKey: this.keys.nodeKey?.public.toString() ?? null,
      wantRunning: this.prefs.WantRunning,
      controlURL: this.prefs.ControlURL,
    });
    // Undo what a killed predecessor left (routes, rules, iptables, resolv.conf) before anything runs.
    await this.os?.start();
    if (this.prefs.WantRunning && this.keys.nodeKey && this.prefs.ControlURL) this.startSession(undefined);
    this.setState(this.nextState());
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    this.stopSession();
    await this.paths.closing;
    this.control?.client.close();
    this.control = undefined;
    this.bus.close();
  }

  // ---- the LocalAPI calls --------------------------------------------------------------------

  watch(fn: (n: Notify) => void): () => void {
    return this.bus.subscribe(fn);
  }

  async status(): Promise<Status> {
    return this.buildStatus();
  }

  async getPrefs(): Promise<Prefs> {
    return { ...this.prefs };
  }

  async editPrefs(mp: MaskedPrefs): Promise<Prefs> {
    const before = this.prefs;
    await this.applyPrefs(mp);
    if (mp.WantRunning === true && !before.WantRunning) this.beginRun(undefined, false);
    if (mp.WantRunning === false && before.WantRunning) this.stopSession();
    this.setState(this.nextState());
    this.hostinfoMaybeChanged();
    return { ...this.prefs };
  }

  async start(req: ApiRequest<'start'>): Promise<Record<string, never>> {
    const prevURL = this.prefs.ControlURL;
    await this.applyPrefs(upEdits(req, this.prefs));
    const urlChanged = prevURL !== '' && prevURL !== this.prefs.ControlURL;
    if (urlChanged && this.keys.nodeKey) {
      // A login belongs to one control server: switching servers starts a fresh login.
      this.log.info('backend: control URL changed; dropping the old login', { from: prevURL, to: this.prefs.ControlURL });
      await this.forgetLogin();
    }
    const force = req.ForceReauth === true;
    const authKey = req.AuthKey ? req.AuthKey.trim() : undefined;
    const alreadyUp = this.session && this.loggedIn && !force && !authKey && !urlChanged;
    if (!alreadyUp) this.beginRun(authKey, force);
    this.setState(this.nextState());
    this.hostinfoMaybeChanged();
    return {};
  }

  async loginInteractive(): Promise<Record<string, never>> {
    if (this.authURL) {
      // Already waiting: show the same URL again (the UI may have missed it).
      this.bus.publish({ BrowseToURL: this.authURL });
      return {};
    }
    if (!this.prefs.ControlURL) await this.applyPrefs({ ControlURL: DEFAULT_CONTROL_URL });
    await this.applyPrefs({ WantRunning: true, LoggedOut: false });
    if (!(this.session && this.loggedIn)) this.beginRun(undefined, false);
    this.setState(this.nextState());
    return {};
  }

  async down(): Promise<Record<string, never>> {
    await this.applyPrefs({ WantRunning: false });
    this.stopSession();
    // `down` answers once routes, rules, iptables and resolv.conf are restored and the TUN is gone.
    await this.paths.closing;
    this.setState(this.nextState());
    return {};
  }

  async logout(): Promise<Record<string, never>> {
    const key = this.keys.nodeKey;
    this.stopSession();
    if (key && this.prefs.ControlURL) {
      await logoutAtControl({ client: () => this.controlClient(), nodeKey: key, hostinfo: () => this.hostinfo(), clock: this.clock, logger: this.log });
    }
    await this.paths.closing;
    await this.forgetLogin();
    await this.applyPrefs({ WantRunning: false, LoggedOut: true });
    this.setState(this.nextState());
    this.bus.statusChanged();
    return {};
  }

  async ping(req: ApiRequest<'ping'>): Promise<ApiResponse<'ping'>> {
    const dp = this.paths.path;
    if (!dp) throw new MeshtrayError('ERR_INTERNAL', 'ping needs the data plane, which is not running (is the node up?)');
    const type = req.Type ?? 'disco';
    if (type !== 'disco') throw new MeshtrayError('ERR_BAD_REQUEST', `ping type ${type} is not supported yet; use a disco ping`);
    return dp.ping(req.Target, req.TimeoutMs ?? 5000);
  }

  /** `meshtray why`: from the route table the OS router installed last, with the peer's current path. */
  async why(req: ApiRequest<'why'>): Promise<ApiResponse<'why'>> {
    if (!this.os) throw new MeshtrayError('ERR_NOT_FOUND', 'this engine does not manage OS routes (userspace networking, or not root)');
    const dp = this.paths.path;
    const pathOf = (n: NetNode): PeerPath => {
      if (!dp) return { kind: 'unknown' };
      const cur = dp.peerExtras(n).CurAddr;
      if (cur) return { kind: 'direct', endpoint: cur };
      return { kind: 'relayed', derpRegion: this.netmap.derpRegionCode(n.HomeDERP) || String(n.HomeDERP) };
    };
    await this.osSettled();
    return this.os.why(req.Dest, pathOf) as ApiResponse<'why'>;
  }

  /** Packet-filter drops, MagicDNS counters, route warnings (`debug metrics`). */
  async osMetrics(): Promise<ApiResponse<'osMetrics'>> {
    if (!this.os) throw new MeshtrayError('ERR_NOT_FOUND', 'this engine does not manage OS routes (userspace networking, or not root)');
    return this.os.metrics();
  }

  /** `dns status`: the tailnet's DNS settings, the OS's own resolver, and what the engine did with both. */
  async dnsStatus(): Promise<ApiResponse<'dnsStatus'>> {
    if (!this.os) throw new MeshtrayError('ERR_NOT_FOUND', 'this engine does not manage DNS on this host (userspace networking, or not root)');
    await this.osSettled();
    return this.os.dnsStatus(this.currentNetMap, this.prefs);
  }

  /**
   * Waits for the OS apply in flight, if any: Running is published before the first route/DNS
   * install finishes, and questions about the OS (`why`, `dns status`) are answered from what was
   * installed, not "no route table yet". OSWiring.apply never throws; the router bounds its time.
   */
  private async osSettled(): Promise<void> {
    await this.paths.osApplying;
  }

  /** `netcheck`: a fresh report from the data path's socket (tailscale netcheck). */
  async netcheck(): Promise<ApiResponse<'netcheck'>> {
    const dp = this.paths.path;
    if (!dp) throw new MeshtrayError('ERR_INTERNAL', 'netcheck needs the data plane, which is not running (is the node up?)');
    const r = await dp.netcheck();
    if (!r) throw new MeshtrayError('ERR_INTERNAL', 'netcheck: no DERP map yet');
    const dm = this.netmap.derpMap as DerpMap | undefined;
    const regions = dm ? regionsOf(dm).map((g) => ({ RegionID: g.RegionID, RegionCode: g.RegionCode ?? '', RegionName: g.RegionName ?? '' })) : [];
    return { Report: { ...toTailscaleJSON(r) }, Regions: regions };
  }

  /** `debug metrics`: data-path counters by name, plus the backend's own. */
  async metrics(): Promise<ApiResponse<'metrics'>> {
    const c: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.counters)) c[`backend_${k}`] = v;
    const dp = this.paths.path;
    if (dp) Object.assign(c, dp.metrics());
    return { Counters: c };
  }

  // ---- state -------------------------------------------------------------------------------

  get backendState(): BackendState {
    return this.state;
  }

  /** The current netmap (read-only use): the last good one, kept across reconnects. */
  get currentNetMap(): NetMap | undefined {
    return this.hasNetmap ? this.netmap : undefined;
  }

  private nextState(): BackendState {
    // Order as tailscale's nextStateLocked: login problems first, then the user's wish, then progress.
    if (this.authURL) return 'NeedsLogin';
    if (!this.keys.nodeKey) return 'NeedsLogin';
    if (!this.prefs.WantRunning) return 'Stopped';
    if (this.loggedIn && this.netmapLive && this.netmap.self?.MachineAuthorized === false) return 'NeedsMachineAuth';
    if (this.loggedIn && this.netmapLive) return 'Running';
    return 'Starting';
  }

  private setState(s: BackendState): void {
    if (s === this.state) return;
    this.log.info('backend: state', { from: this.state, to: s });
    this.state = s;
    this.bus.publish({ State: s });
    this.bus.statusChanged();
  }

  private buildStatus(): Status {
    const dp = this.paths.path;
    return buildStatus({
      version: this.opts.version,
      state: this.state,
      haveNodeKey: this.keys.nodeKey !== undefined,
      authURL: this.authURL,
      netmap: this.hasNetmap ? this.netmap : undefined,
      health: [...this.health, ...this.osHealth],
      tun: dp !== undefined || (this.opts.tun ?? false),
      ...(dp ? { peerExtras: dp.peerExtras.bind(dp), selfExtras: dp.selfExtras() } : {}),
      inMapPoll: this.inMapPoll,
      now: this.controlNow(),
      exitNodeID: this.prefs.ExitNodeID,
    });
  }

  private async applyPrefs(mp: MaskedPrefs): Promise<void> {
    if (mp.ExitNodeIP !== undefined && mp.ExitNodeIP !== '') {
      // `--exit-node=<name|ip>`: resolved against the netmap to the peer's StableID; an unknown
      // name or a peer without exit routes throws here, before any pref or route changes.
      mp = { ...mp, ...exitNodePrefs(this.currentNetMap, mp.ExitNodeIP) };
    }
    const { next, changed } = mergePrefs(this.prefs, mp);
    // tailscale checkExitNodePrefsLocked: never use and offer an exit node at once. Checked only for
    // edits that touch either, so down/logout still work on prefs an older version stored.
    const touchesExit = mp.ExitNodeID !== undefined || mp.ExitNodeIP !== undefined || mp.AdvertiseRoutes !== undefined;
    if (touchesExit && usesExitNode(next) && advertisesExitNode(next)) throw new MeshtrayError('ERR_BAD_REQUEST', EXIT_NODE_BOTH_REFUSED);
    this.prefs = next;
    if (!changed) return;
    await savePrefs(this.store, next);
    this.bus.publish({ Prefs: { ...next } });
    this.osApply();
  }

  private async forgetLogin(): Promise<void> {
    this.loggedIn = false;
    this.netmapLive = false;
    this.authURL = '';
    this.hasNetmap = false;
    this.netmap.startStream();
    await this.keys.forget();
  }

  private setHealth(msg: string, on: boolean): void {
    const had = this.health.has(msg);
    if (on === had) return;
    if (on) this.health.add(msg);
    else this.health.delete(msg);
    this.bus.publish({ Health: [...this.health] });
    this.bus.statusChanged();
  }

  private controlNow(): number {
    return controlNow(this.clock.now(), this.netmap.controlTime);
  }

  // ---- sessions: the register loop + map loop for one "up" ----------------------------------

  private beginRun(authKey: string | undefined, forceReauth: boolean): void {
    if (forceReauth && this.keys.nodeKey) this.rotateNodeKey('forced re-auth');
    this.authURL = '';
    this.startSession(authKey);
  }

  private rotateNodeKey(why: string): void {
    this.keys.rotate(why);
    this.loggedIn = false;
  }

  private startSession(authKey: string | undefined): void {
    this.stopSession();
    const ac = new AbortController();
    this.session = ac;
    void this.run(ac.signal, authKey).catch((e: unknown) => {
      this.log.error('backend: session crashed', { err: e });
    });
  }

  private stopSession(): void {
    this.paths.close();
    // Aborting ends the map stream too, and with it the stream's watchdog and key-expiry timers.
    this.session?.abort();
    this.session = undefined;
    this.loggedIn = false;
    if (this.netmapLive) {
      this.netmapLive = false;
      this.bus.statusChanged();
    }
  }

  private async run(sig: AbortSignal, authKey: string | undefined): Promise<void> {
    while (!sig.aborted && !this.closed) {
      const ok = await registerUntilLoggedIn(this.registerHost, sig, authKey);
      authKey = undefined; // a pre-auth key is used for one login, then forgotten
      if (!ok || sig.aborted) return;
      const end = await this.mapSession.run(sig);
      if (end !== 'relogin') return;
    }
  }

  private controlClient(): ControlClientPort {
    const url = this.prefs.ControlURL;
    if (this.control && this.control.url === url) return this.control.client;
    this.control?.client.close();
    if (!this.machineKey) throw new MeshtrayError('ERR_INTERNAL', 'backend used before init()');
    const client = this.opts.controlFactory({
      serverURL: url,
      machineKey: this.machineKey,
      logger: this.log,
      clock: this.clock,
      random: this.random,
    });
    this.control = { url, client };
    return client;
  }

  private hostinfo(): Hostinfo {
    return withNetInfo(buildHostinfo(this.opts.hostFacts, this.prefs), this.paths.path?.netInfo());
  }

  private mapRequest(stream: boolean): MapRequest {
    if (!this.keys.nodeKey) throw new MeshtrayError('ERR_NEEDS_LOGIN', 'no node key');
    return buildMapRequest({
      nodeKey: this.keys.nodeKey.public.toString(),
      discoKey: this.discoKey.public.toString(),
      hostinfo: this.hostinfo(),
      endpoints: this.paths.path?.endpointFields(),
      stream,
    });
  }

  /** The register loop's view of (and only way to change) the login state. */
  private newRegisterHost(): RegisterHost {
    return {
      clock: this.clock,
      random: this.random,
      logger: this.log,
      counters: this.counters,
      client: () => this.controlClient(),
      hostinfo: () => this.hostinfo(),
      keyToTry: () => this.keys.toTry(),
      oldKey: () => this.keys.oldNodeKey,
      attempting: () => this.setState(this.nextState()),
      reachable: (ok) => this.setHealth(NOT_CONNECTED, !ok),
      refused: (error, final) => {
        this.bus.publish({ ErrMessage: error });
        if (!final) return;
        this.keys.dropTrying();
        this.setState(this.nextState());
      },
      keyExpired: () => this.rotateNodeKey('control reported the node key as expired'),
      needsBrowser: (url) => {
        if (this.authURL === url) return;
        this.authURL = url;
        this.log.info('backend: interactive login needed', { authURL: url });
        this.setState(this.nextState());
        this.bus.publish({ BrowseToURL: url });
        this.bus.statusChanged();
      },
      accepted: (key, resp) => this.keys.accept(key, resp, this.prefs.ControlURL),
      loggedIn: (key) => {
        this.authURL = '';
        this.loggedIn = true;
        this.log.info('backend: logged in', { nodeKey: key.public.toString(), user: this.keys.loginName ?? null });
        this.bus.publish({ LoginFinished: {} });
        this.setState(this.nextState());
        this.bus.statusChanged();
      },
    };
  }

  /** The map session's view of the backend: what each stream event means for state and Status. */
  private newMapSession(): MapSession {
    return new MapSession({
      clock: this.clock,
      random: this.random,
      logger: this.log,
      counters: this.counters,
      watchdogMs: this.opts.watchdogMs ?? MAP_WATCHDOG_MS,
      netmap: this.netmap,
      client: () => this.controlClient(),
      streamRequest: () => {
        const req = this.mapRequest(true);
        this.lite.streamed(req);
        return req;
      },
      controlNow: () => this.controlNow(),
      streamUp: () => {
        this.hasNetmap = true;
        this.netmapLive = true;
        this.inMapPoll = true;
        this.setHealth(NOT_CONNECTED, false);
        this.log.info('map: netmap received', { peers: this.netmap.peerCount, self: this.netmap.self?.Name ?? '' });
        this.setState(this.nextState());
      },
      netmapChanged: () => this.paths.sync(),
      statusChanged: () => this.bus.statusChanged(),
      streamDown: () => {
        if (!this.inMapPoll) return;
        this.inMapPoll = false;
        this.bus.statusChanged();
      },
      keyExpired: () => {
        this.netmapLive = false;
        this.rotateNodeKey('node key expired');
        this.setState(this.nextState());
      },
      nodeUnknown: () => {
        this.loggedIn = false;
        this.netmapLive = false;
        this.setState(this.nextState());
      },
      disconnected: () => this.setHealth(NOT_CONNECTED, true),
    });
  }

  // ---- the data path (TUN + WireGuard + DERP + magicsock) and the OS ------------------------

  private newDataPathHost(): DataPathHost {
    return new DataPathHost({
      factory: this.opts.dataPath,
      os: this.os,
      netmap: this.netmap,
      discoKey: this.discoKey,
      logger: this.log,
      nodeKey: () => (this.closed ? undefined : this.keys.nodeKey),
      routeAll: () => this.prefs.RouteAll,
      endpointsChanged: () => this.pushEndpoints(),
      startFailed: (failed) => this.setHealth(DATA_PLANE_FAILED, failed),
      wantOSApply: () => this.osApply(),
      closed: () => this.bus.statusChanged(),
    });
  }

  /**
   * Brings the OS (routes, kernel ACL, MagicDNS, resolv.conf) in line with the netmap and prefs,
   * then gives the data path the new table's AllowedIPs. After every non-keepalive netmap change
   * and every prefs edit.
   */
  private osApply(): void {
    if (!this.os || !this.paths.path || !this.hasNetmap || !this.prefs.WantRunning) return;
    if (this.prefs.ExitNodeIP && !this.prefs.ExitNodeID) {
      // `up --exit-node=<ip>` before there was a netmap: now it can become the peer's StableID
      // (tailscale resolveExitNodeIPLocked). Not an exit node (yet)? Keep the IP; the route table
      // reports it as unusable and routes internet traffic nowhere rather than around the tunnel.
      try {
        const r = exitNodePrefs(this.netmap, this.prefs.ExitNodeIP);
        if (r.ExitNodeID) {
          void this.applyPrefs(r).catch((e: unknown) => this.log.warn('backend: storing the exit node failed', { err: e }));
          return; // applyPrefs applies again with the StableID
        }
      } catch (e) {
        this.log.debug('backend: exit node IP not resolvable yet', { reason: e instanceof Error ? e.message : String(e) });
      }
    }
    this.paths.applyOS(this.prefs);
  }

  // ---- lite updates (control.md §11.2) --------------------------------------------------------

  /** Our endpoints or home DERP changed: tell control (a non-streaming MapRequest). */
  private pushEndpoints(): void {
    if (!this.loggedIn || !this.keys.nodeKey) return;
    this.lite.endpointsChanged(this.session?.signal);
  }

  private hostinfoMaybeChanged(): void {
    if (!this.loggedIn || !this.netmapLive || !this.keys.nodeKey) return;
    this.lite.hostinfoMaybeChanged(this.session?.signal);
  }
}
