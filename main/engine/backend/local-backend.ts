// The engine's single owner of state (tailscale's ipn/ipnlocal LocalBackend): prefs, the login
// state machine, the keys, the map poll and the netmap, and the Notify bus. Everything else (the
// LocalAPI, the app, tests) calls its methods or subscribes; nothing else mutates this state.
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
import type { Clock, Logger, Random, StateStore, Timer } from '../ports/ports.js';
import { CURRENT_CAPABILITY_VERSION } from '../control/capver.js';
import { LOGOUT_EXPIRY, ZERO_TIME, type MapRequest, type RegisterRequest, type RegisterResponse } from '../control/messages.js';
import { NetMap, type NetNode } from '../netmap/netmap.js';
import { parseMapResponse } from '../netmap/tailcfg.js';
import { goTimeToMs, isZeroTime } from '../netmap/go-time.js';
import type { LocalApiBackend } from '../localapi/server.js';
import { backoffDelay, sleep } from './backoff.js';
import { isNodeNotFound, type ControlClientFactory, type ControlClientPort } from './control-port.js';
import { buildHostinfo, hostinfoKey, type HostFacts } from './hostinfo.js';
import { NotifyBus } from './notify-bus.js';
import { loadOrCreateMachineKey, loadPrefs, loadProfile, savePrefs, saveProfile, type Profile } from './profile.js';
import { buildStatus } from './status-builder.js';
import type { DataPathFactory, DataPathPort } from './data-path-port.js';
import { controlAndDerpIPs, exitNodePrefs, netmapWithAllowedIPs, OSWiring, type OSDeps } from './os-wiring.js';
import type { PeerPath } from '../routes/why.js';
import { toTailscaleJSON } from '../netcheck/report.js';
import type { DerpMap } from '../derp/derp-map.js';
import { regionsOf } from '../derp/derp-map.js';

/** tailscale's ipn.DefaultControlURL, used when `up` names no --login-server. */
export const DEFAULT_CONTROL_URL = 'https://controlplane.tailscale.com';
/** No map message (keep-alives included) for this long → the stream is dead (control.md §13). */
export const MAP_WATCHDOG_MS = 120_000;

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

export interface BackendCounters {
  badMapMessages: number;
  /** PingRequests from control answered with a HEAD. */
  controlPings: number;
  mapStreams: number;
  mapFailures: number;
  registerFailures: number;
  liteUpdates: number;
}

type MapLoopEnd = 'stopped' | 'relogin';

export class LocalBackend implements LocalApiBackend {
  private readonly log: Logger;
  private readonly store: StateStore;
  private readonly clock: Clock;
  private readonly random: Random;
  private prefs: Prefs = defaultPrefs();
  private state: BackendState = 'NoState';
  private machineKey: PrivateKey<'machine'> | undefined;
  /** The registered node key (persisted with the login). */
  private nodeKey: PrivateKey<'node'> | undefined;
  /** The key we rotated away from; sent as OldNodeKey. */
  private oldNodeKey: PrivateKey<'node'> | undefined;
  /** A key being registered (interactive login, rotation); persisted only once control accepts it. */
  private tryingKey: PrivateKey<'node'> | undefined;
  private readonly discoKey: PrivateKey<'disco'>;
  private profileMeta: Pick<Profile, 'LoginName' | 'UserID'> = {};
  private authURL = '';
  private loggedIn = false;
  private netmapLive = false;
  /** A map stream is delivering right now (false while reconnecting; the last good netmap stays). */
  private inMapPoll = false;
  private readonly netmap: NetMap;
  private hasNetmap = false;
  private control: { url: string; client: ControlClientPort } | undefined;
  private session: AbortController | undefined;
  private currentStream: AbortController | undefined;
  private expiryTimer: Timer | undefined;
  private health = new Set<string>();
  private lastSentHostinfo = '';
  private liteGen = 0;
  private readonly bus: NotifyBus;
  private closed = false;
  /** The data path for the current node key (created with the first netmap of a login). */
  private dataPath: { key: string; path: DataPathPort; unsub: () => void } | undefined;
  private dataPathClosing: Promise<void> | undefined;
  private readonly os: OSWiring | undefined;
  /** The OS apply in flight (or done last), so `why` can wait for the first route table. */
  private osApplying: Promise<void> | undefined;
  /** Health lines of the OS integration (apply errors, route warnings), shown beside ours. */
  private osHealth: readonly string[] = [];
  readonly counters: BackendCounters = { badMapMessages: 0, controlPings: 0, mapStreams: 0, mapFailures: 0, registerFailures: 0, liteUpdates: 0 };

  constructor(private readonly opts: LocalBackendOptions) {
    this.log = opts.logger;
    this.store = opts.store;
    this.clock = opts.clock;
    this.random = opts.random;
    // The disco key is new every process start (tailscale magicsock), never persisted.
    this.discoKey = PrivateKey.generate('disco', this.random);
    this.netmap = new NetMap({ clock: this.clock });
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
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Loads keys and prefs; resumes the login if one is stored and the node was running. */
  async init(): Promise<void> {
    this.machineKey = await loadOrCreateMachineKey(this.store, this.random, this.log);
    this.prefs = await loadPrefs(this.store, this.log);
    const profile = await loadProfile(this.store, this.log);
    if (profile) {
      try {
        this.nodeKey = PrivateKey.parse('node', profile.PrivateNodeKey);
        this.oldNodeKey = profile.OldPrivateNodeKey ? PrivateKey.parse('node', profile.OldPrivateNodeKey) : undefined;
        this.profileMeta = { LoginName: profile.LoginName, UserID: profile.UserID };
      } catch {
        this.log.error('state: stored node key is malformed; a new login is needed');
      }
    }
    this.log.info('backend: loaded state', {
      machineKey: this.machineKey.public.toString(),
      nodeKey: this.nodeKey?.public.toString() ?? null,
      wantRunning: this.prefs.WantRunning,
      controlURL: this.prefs.ControlURL,
    });
    // Undo what a killed predecessor left (routes, rules, iptables, resolv.conf) before anything runs.
    await this.os?.start();
    if (this.prefs.WantRunning && this.nodeKey && this.prefs.ControlURL) this.startSession(undefined);
    this.setState(this.nextState());
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    this.stopSession();
    await this.dataPathClosing;
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
    const edits: MaskedPrefs = { ...(req.Prefs ?? {}), WantRunning: true, LoggedOut: false };
    if (!edits.ControlURL && !this.prefs.ControlURL) edits.ControlURL = DEFAULT_CONTROL_URL;
    if (edits.ControlURL) edits.ControlURL = edits.ControlURL.replace(/\/+$/, '');
    await this.applyPrefs(edits);
    const urlChanged = prevURL !== '' && prevURL !== this.prefs.ControlURL;
    if (urlChanged && this.nodeKey) {
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
    await this.dataPathClosing;
    this.setState(this.nextState());
    return {};
  }

  async logout(): Promise<Record<string, never>> {
    const key = this.nodeKey;
    this.stopSession();
    if (key && this.prefs.ControlURL) {
      // Tell control (Expiry in the past = logout, control.md §6.6); best effort, bounded.
      const ac = new AbortController();
      const t = this.clock.setTimeout(() => ac.abort(), 10_000);
      try {
        const resp = await this.controlClient().register(
          { Version: CURRENT_CAPABILITY_VERSION, NodeKey: key.public.toString(), Expiry: LOGOUT_EXPIRY, Followup: '', Hostinfo: this.hostinfo() },
          { signal: ac.signal },
        );
        if (resp.Error) this.log.warn('backend: control refused logout', { error: resp.Error });
        else this.log.info('backend: logged out at control');
      } catch (e) {
        this.log.warn('backend: logout request failed; forgetting the login locally anyway', { err: e });
      } finally {
        t.cancel();
      }
    }
    await this.dataPathClosing;
    await this.forgetLogin();
    await this.applyPrefs({ WantRunning: false, LoggedOut: true });
    this.setState(this.nextState());
    this.bus.statusChanged();
    return {};
  }

  async ping(req: ApiRequest<'ping'>): Promise<ApiResponse<'ping'>> {
    const dp = this.dataPath?.path;
    if (!dp) throw new MeshtrayError('ERR_INTERNAL', 'ping needs the data plane, which is not running (is the node up?)');
    const type = req.Type ?? 'disco';
    if (type !== 'disco') throw new MeshtrayError('ERR_BAD_REQUEST', `ping type ${type} is not supported yet; use a disco ping`);
    return dp.ping(req.Target, req.TimeoutMs ?? 5000);
  }

  /** `meshtray why`: from the route table the OS router installed last, with the peer's current path. */
  async why(req: ApiRequest<'why'>): Promise<ApiResponse<'why'>> {
    if (!this.os) throw new MeshtrayError('ERR_NOT_FOUND', 'this engine does not manage OS routes (userspace networking, or not root)');
    const dp = this.dataPath?.path;
    const pathOf = (n: NetNode): PeerPath => {
      if (!dp) return { kind: 'unknown' };
      const cur = dp.peerExtras(n).CurAddr;
      if (cur) return { kind: 'direct', endpoint: cur };
      return { kind: 'relayed', derpRegion: this.netmap.derpRegionCode(n.HomeDERP) || String(n.HomeDERP) };
    };
    // Running is published before the first route install finishes: answer from that table rather
    // than "no route table yet" (OSWiring.apply never throws; the router bounds its own time).
    if (!this.os.table && this.osApplying) await this.osApplying;
    return this.os.why(req.Dest, pathOf) as ApiResponse<'why'>;
  }

  /** Packet-filter drops, MagicDNS counters, route warnings (`debug metrics`). */
  async osMetrics(): Promise<ApiResponse<'osMetrics'>> {
    if (!this.os) throw new MeshtrayError('ERR_NOT_FOUND', 'this engine does not manage OS routes (userspace networking, or not root)');
    return this.os.metrics();
  }

  /** `netcheck`: a fresh report from the data path's socket (tailscale netcheck). */
  async netcheck(): Promise<ApiResponse<'netcheck'>> {
    const dp = this.dataPath?.path;
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
    if (this.dataPath) Object.assign(c, this.dataPath.path.metrics());
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
    if (!this.nodeKey) return 'NeedsLogin';
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
    return buildStatus({
      version: this.opts.version,
      state: this.state,
      haveNodeKey: this.nodeKey !== undefined,
      authURL: this.authURL,
      netmap: this.hasNetmap ? this.netmap : undefined,
      health: [...this.health, ...this.osHealth],
      tun: this.dataPath !== undefined || (this.opts.tun ?? false),
      ...(this.dataPath ? { peerExtras: this.dataPath.path.peerExtras.bind(this.dataPath.path), selfExtras: this.dataPath.path.selfExtras() } : {}),
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
    const next: Prefs = { ...this.prefs, ...mp };
    const changed = JSON.stringify(next) !== JSON.stringify(this.prefs);
    this.prefs = next;
    if (!changed) return;
    await savePrefs(this.store, next);
    this.bus.publish({ Prefs: { ...next } });
    this.osApply();
  }

  private async forgetLogin(): Promise<void> {
    this.nodeKey = undefined;
    this.oldNodeKey = undefined;
    this.tryingKey = undefined;
    this.profileMeta = {};
    this.loggedIn = false;
    this.netmapLive = false;
    this.authURL = '';
    this.hasNetmap = false;
    this.netmap.startStream();
    await saveProfile(this.store, undefined);
  }

  private async persistLogin(): Promise<void> {
    if (!this.nodeKey) return;
    const p: Profile = { ControlURL: this.prefs.ControlURL, PrivateNodeKey: this.nodeKey.toSecretText(), ...this.profileMeta };
    if (this.oldNodeKey) p.OldPrivateNodeKey = this.oldNodeKey.toSecretText();
    await saveProfile(this.store, p);
  }

  private setHealth(msg: string, on: boolean): void {
    const had = this.health.has(msg);
    if (on === had) return;
    if (on) this.health.add(msg);
    else this.health.delete(msg);
    this.bus.publish({ Health: [...this.health] });
    this.bus.statusChanged();
  }

  /** Control's idea of now (ControlTime offset when the clocks differ by more than a minute, control.md §13). */
  private controlNow(): number {
    const now = this.clock.now();
    const ct = this.netmap.controlTime;
    if (!ct || isZeroTime(ct)) return now;
    const off = goTimeToMs(ct) - now;
    return Math.abs(off) > 60_000 ? now + off : now;
  }

  // ---- sessions: the register loop + map loop for one "up" ----------------------------------

  private beginRun(authKey: string | undefined, forceReauth: boolean): void {
    if (forceReauth && this.nodeKey) this.rotateNodeKey('forced re-auth');
    this.authURL = '';
    this.startSession(authKey);
  }

  private rotateNodeKey(why: string): void {
    this.oldNodeKey = this.nodeKey ?? this.oldNodeKey;
    this.tryingKey = PrivateKey.generate('node', this.random);
    this.loggedIn = false;
    this.log.info('backend: new node key', { why, old: this.oldNodeKey?.public.toString() ?? null, new: this.tryingKey.public.toString() });
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
    this.closeDataPath();
    this.session?.abort();
    this.session = undefined;
    this.currentStream = undefined;
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    this.loggedIn = false;
    if (this.netmapLive) {
      this.netmapLive = false;
      this.bus.statusChanged();
    }
  }

  private async run(sig: AbortSignal, authKey: string | undefined): Promise<void> {
    while (!sig.aborted && !this.closed) {
      const ok = await this.authLoop(sig, authKey);
      authKey = undefined; // a pre-auth key is used for one login, then forgotten
      if (!ok || sig.aborted) return;
      const end = await this.mapLoop(sig);
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

  private hostinfo() {
    const hi = buildHostinfo(this.opts.hostFacts, this.prefs);
    // NetInfo tells peers our home DERP (they reach us there before any direct path exists).
    const dp = this.dataPath?.path;
    if (dp) {
      const ni = dp.netInfo();
      if (ni.PreferredDERP) {
        hi.NetInfo = {
          PreferredDERP: ni.PreferredDERP,
          ...(ni.WorkingUDP !== null ? { WorkingUDP: ni.WorkingUDP } : {}),
          ...(ni.MappingVariesByDestIP !== null ? { MappingVariesByDestIP: ni.MappingVariesByDestIP } : {}),
        };
      }
    }
    return hi;
  }

  // ---- the data path (TUN + WireGuard + DERP + magicsock) ----------------------------------

  /** Creates the data path with the first netmap of a login, or hands it the new netmap. */
  private syncDataPath(): void {
    const factory = this.opts.dataPath;
    if (!factory || !this.nodeKey || this.closed) return;
    const key = this.nodeKey.public.toString();
    if (this.dataPath && this.dataPath.key !== key) this.closeDataPath(); // node key rotated: new WireGuard identity
    if (this.dataPath) {
      try {
        this.dataPath.path.update(this.dataPathView());
      } catch (e) {
        this.log.error('data path: netmap update failed', { err: e });
      }
      this.osApply();
      return;
    }
    if (this.dataPathClosing) {
      // The previous one is still closing (TUN and port in use): retry once it is gone.
      void this.dataPathClosing.then(() => this.syncDataPath());
      return;
    }
    try {
      // With the OS integration the route table decides each peer's AllowedIPs (dataPathView), so
      // the data path takes them as given (routeAll).
      const path = factory({ nodeKey: this.nodeKey, discoKey: this.discoKey, netmap: this.dataPathView(), routeAll: this.os ? true : this.prefs.RouteAll });
      const unsub = path.onEndpointsChanged(() => this.pushEndpoints());
      this.dataPath = { key, path, unsub };
      this.setHealth('data plane failed to start', false);
      this.log.info('backend: data path started');
      this.osApply(); // the TUN exists now: the router can install routes on it
    } catch (e) {
      this.log.error('backend: data path could not start', { err: e });
      this.setHealth('data plane failed to start', true);
    }
  }

  private closeDataPath(): void {
    const d = this.dataPath;
    if (!d) return;
    this.dataPath = undefined;
    d.unsub();
    // The OS first (routes, rules, iptables, resolv.conf back as they were), then the TUN.
    const closing: Promise<void> = (this.os ? this.os.down() : Promise.resolve())
      .then(() => d.path.close())
      .catch((e: unknown) => this.log.warn('data path close failed', { err: e }))
      .then(() => {
        if (this.dataPathClosing === closing) this.dataPathClosing = undefined;
      });
    this.dataPathClosing = closing;
    this.bus.statusChanged();
  }

  /** What the data path sees: with the OS integration, peers' AllowedIPs from the route table. */
  private dataPathView(): NetMap {
    return this.os ? netmapWithAllowedIPs(this.netmap, this.os.table?.peerAllowedIPs) : this.netmap;
  }

  /**
   * Brings the OS (routes, kernel ACL, MagicDNS, resolv.conf) in line with the netmap and prefs,
   * then gives the data path the new table's AllowedIPs. After every non-keepalive netmap change
   * and every prefs edit; OSIntegration coalesces bursts; failures become health lines (OSWiring).
   */
  private osApply(): void {
    const os = this.os;
    const d = this.dataPath;
    if (!os || !d || !this.hasNetmap || !this.prefs.WantRunning) return;
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
    this.osApplying = os.apply(this.netmap, { ...this.prefs }).then((table) => {
      if (!table || d !== this.dataPath) return;
      try {
        d.path.update(this.dataPathView());
      } catch (e) {
        this.log.error('data path: netmap update failed', { err: e });
      }
    });
  }

  /** Our endpoints or home DERP changed: tell control (a non-streaming MapRequest, control.md §11.2). */
  private pushEndpoints(): void {
    if (!this.loggedIn || !this.nodeKey) return;
    const gen = ++this.liteGen;
    const sig = this.session?.signal;
    void (async () => {
      let failures = 0;
      while (gen === this.liteGen && sig && !sig.aborted) {
        try {
          const req = this.mapRequest(false);
          await this.controlClient().mapUpdate(req, { signal: sig });
          this.lastSentHostinfo = hostinfoKey(req.Hostinfo);
          this.counters.liteUpdates++;
          this.log.info('backend: sent endpoints', { endpoints: req.Endpoints ?? [] });
          return;
        } catch (e) {
          if (sig.aborted) return;
          failures++;
          this.log.warn('backend: endpoint update failed; retrying', { err: e });
          if (!(await sleep(this.clock, backoffDelay(failures, this.random), sig))) return;
        }
      }
    })();
  }

  /** Registers until logged in (true) or the session ends / the login cannot succeed (false). */
  private async authLoop(sig: AbortSignal, authKey: string | undefined): Promise<boolean> {
    let failures = 0;
    let rotated = false;
    let followup = '';
    while (!sig.aborted) {
      const key = this.tryingKey ?? this.nodeKey ?? (this.tryingKey = PrivateKey.generate('node', this.random));
      const req: RegisterRequest = {
        Version: CURRENT_CAPABILITY_VERSION,
        NodeKey: key.public.toString(),
        Expiry: ZERO_TIME,
        Followup: followup,
        Hostinfo: this.hostinfo(),
      };
      if (this.oldNodeKey && this.oldNodeKey !== key) req.OldNodeKey = this.oldNodeKey.public.toString();
      if (authKey && !followup) req.Auth = { AuthKey: authKey };
      this.setState(this.nextState());
      let resp: RegisterResponse;
      try {
        resp = await this.controlClient().register(req, { signal: sig });
      } catch (e) {
        if (sig.aborted) return false;
        failures++;
        this.counters.registerFailures++;
        const delay = backoffDelay(failures, this.random);
        this.log.warn('backend: register failed; retrying', { err: e, attempt: failures, retryInMs: delay });
        this.setHealth('not connected to the control server', true);
        if (!(await sleep(this.clock, delay, sig))) return false;
        continue;
      }
      this.setHealth('not connected to the control server', false);
      if (resp.Error) {
        this.counters.registerFailures++;
        this.log.warn('backend: control refused the login', { error: resp.Error });
        this.bus.publish({ ErrMessage: resp.Error });
        if (authKey) {
          // A refused pre-auth key will not get better by retrying; the user must act.
          this.tryingKey = undefined;
          this.setState(this.nextState());
          return false;
        }
        failures++;
        if (!(await sleep(this.clock, backoffDelay(failures, this.random), sig))) return false;
        continue;
      }
      if (resp.NodeKeyExpired) {
        if (rotated) {
          failures++;
          this.log.warn('backend: control says the new node key is expired too; backing off');
          if (!(await sleep(this.clock, backoffDelay(failures, this.random), sig))) return false;
        }
        this.rotateNodeKey('control reported the node key as expired');
        rotated = true;
        followup = '';
        continue;
      }
      if (resp.AuthURL) {
        if (resp.AuthURL === followup) {
          // The same URL again: back off before following up (tailscale auto.go does the same).
          failures++;
          if (!(await sleep(this.clock, backoffDelay(failures, this.random), sig))) return false;
        }
        followup = resp.AuthURL;
        if (this.authURL !== resp.AuthURL) {
          this.authURL = resp.AuthURL;
          this.log.info('backend: interactive login needed', { authURL: resp.AuthURL });
          this.setState(this.nextState());
          this.bus.publish({ BrowseToURL: resp.AuthURL });
          this.bus.statusChanged();
        }
        continue;
      }
      // Success: the key we tried is now ours.
      this.nodeKey = key;
      this.tryingKey = undefined;
      if (resp.Login?.LoginName) this.profileMeta.LoginName = resp.Login.LoginName;
      if (resp.User?.ID !== undefined) this.profileMeta.UserID = resp.User.ID;
      await this.persistLogin();
      if (sig.aborted) return false;
      this.authURL = '';
      this.loggedIn = true;
      this.log.info('backend: logged in', { nodeKey: key.public.toString(), user: this.profileMeta.LoginName ?? null });
      this.bus.publish({ LoginFinished: {} });
      this.setState(this.nextState());
      this.bus.statusChanged();
      return true;
    }
    return false;
  }

  private mapRequest(stream: boolean): MapRequest {
    if (!this.nodeKey) throw new MeshtrayError('ERR_NEEDS_LOGIN', 'no node key');
    const r: MapRequest = {
      Version: CURRENT_CAPABILITY_VERSION,
      Compress: 'zstd',
      KeepAlive: true,
      NodeKey: this.nodeKey.public.toString(),
      DiscoKey: this.discoKey.public.toString(),
      Stream: stream,
      Hostinfo: this.hostinfo(),
    };
    if (this.dataPath) Object.assign(r, this.dataPath.path.endpointFields());
    if (!stream) r.OmitPeers = true;
    return r;
  }

  /**
   * Control asks "are you there?" with a PingRequest. An empty Types means: send a HEAD to the URL
   * (tailscale ipnlocal handlePingRequest). Typed pings (disco/TSMP/ICMP/c2n) need the data plane
   * and are logged and skipped. Never awaited: a slow answer must not stall the map stream.
   */
  private answerControlPing(pr: { URL: string; URLIsNoise?: boolean | undefined; Types?: string | undefined }, signal: AbortSignal): void {
    if (pr.Types) {
      this.log.debug('map: control ping of a type we cannot answer yet', { types: pr.Types });
      return;
    }
    const client = this.controlClient();
    if (!client.answerPing) return;
    this.counters.controlPings++;
    client.answerPing({ URL: pr.URL, URLIsNoise: pr.URLIsNoise }, { signal }).catch((e: unknown) => {
      this.log.warn('map: could not answer a control ping', { reason: e instanceof Error ? e.message : String(e) });
    });
  }

  /** Map polls until the session ends ('stopped') or control no longer knows our key ('relogin'). */
  private async mapLoop(sig: AbortSignal): Promise<MapLoopEnd> {
    let failures = 0;
    while (!sig.aborted) {
      const stream = new AbortController();
      const onSessionAbort = (): void => stream.abort();
      sig.addEventListener('abort', onSessionAbort, { once: true });
      this.currentStream = stream;
      this.netmap.startStream();
      this.counters.mapStreams++;
      let dropReason: string | undefined;
      let relogin = false;
      let gotFirst = false;
      let watchdog: Timer | undefined;
      const drop = (reason: string): void => {
        if (stream.signal.aborted) return;
        dropReason = reason;
        stream.abort();
      };
      const feed = (): void => {
        watchdog?.cancel();
        watchdog = this.clock.setTimeout(() => drop(`no map message for ${Math.round(this.watchdogMs() / 1000)} s`), this.watchdogMs());
      };
      feed();
      const req = this.mapRequest(true);
      this.lastSentHostinfo = hostinfoKey(req.Hostinfo);
      const onMessage = (raw: unknown): void => {
        if (stream.signal.aborted) return;
        feed();
        const p = parseMapResponse(raw);
        if (!p.ok) {
          this.counters.badMapMessages++;
          this.log.warn('map: rejected a message; dropping the stream, keeping the last good netmap', { reason: p.reason });
          return drop(`bad map message: ${p.reason}`);
        }
        let change;
        try {
          change = this.netmap.apply(p.value);
        } catch (e) {
          this.counters.badMapMessages++;
          const reason = e instanceof Error ? e.message : String(e);
          this.log.warn('map: message could not be applied; dropping the stream', { reason });
          return drop(`bad map message: ${reason}`);
        }
        if (p.value.PingRequest) this.answerControlPing(p.value.PingRequest, stream.signal);
        if (p.value.KeepAlive) return;
        if (!gotFirst) {
          gotFirst = true;
          failures = 0;
          this.hasNetmap = true;
          this.netmapLive = true;
          this.inMapPoll = true;
          this.setHealth('not connected to the control server', false);
          this.log.info('map: netmap received', { peers: this.netmap.peerCount, self: this.netmap.self?.Name ?? '' });
          this.setState(this.nextState());
        }
        this.syncDataPath();
        if (change.selfChanged && this.selfKeyExpired()) {
          relogin = true;
          return drop('self node key expired');
        }
        if (change.selfChanged) this.armExpiryTimer(() => {
          relogin = true;
          drop('self node key expired');
        });
        this.bus.statusChanged();
      };
      let err: unknown;
      try {
        await this.controlClient().mapStream(req, onMessage, { signal: stream.signal });
      } catch (e) {
        err = e;
      } finally {
        watchdog?.cancel();
        sig.removeEventListener('abort', onSessionAbort);
        if (this.inMapPoll) {
          this.inMapPoll = false;
          this.bus.statusChanged();
        }
      }
      if (sig.aborted) return 'stopped';
      if (relogin) {
        this.log.info('map: node key expired; logging in again');
        this.netmapLive = false;
        this.rotateNodeKey('node key expired');
        this.setState(this.nextState());
        return 'relogin';
      }
      if (!dropReason && err !== undefined && isNodeNotFound(err)) {
        this.log.warn('map: control does not know this node key; registering again', { err });
        this.loggedIn = false;
        this.netmapLive = false;
        this.setState(this.nextState());
        return 'relogin';
      }
      failures++;
      this.counters.mapFailures++;
      const delay = backoffDelay(failures, this.random);
      this.log.warn('map: stream ended; reconnecting', {
        reason: dropReason ?? (err === undefined ? 'server ended the stream' : undefined),
        err: dropReason ? undefined : err,
        attempt: failures,
        retryInMs: delay,
      });
      this.setHealth('not connected to the control server', true);
      if (!(await sleep(this.clock, delay, sig))) return 'stopped';
    }
    return 'stopped';
  }

  private watchdogMs(): number {
    return this.opts.watchdogMs ?? MAP_WATCHDOG_MS;
  }

  private selfKeyExpired(): boolean {
    const exp = this.netmap.self?.KeyExpiry;
    if (!exp || isZeroTime(exp)) return false;
    return goTimeToMs(exp) <= this.controlNow();
  }

  private armExpiryTimer(onExpire: () => void): void {
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    const exp = this.netmap.self?.KeyExpiry;
    if (!exp || isZeroTime(exp)) return;
    const ms = goTimeToMs(exp) - this.controlNow();
    // setTimeout cannot hold more than ~24.8 days; a later expiry is re-armed by the next self update.
    if (ms > 0 && ms < 2 ** 31 - 1) this.expiryTimer = this.clock.setTimeout(onExpire, ms);
  }

  // ---- Hostinfo lite updates (control.md §11.2) --------------------------------------------

  private hostinfoMaybeChanged(): void {
    if (!this.loggedIn || !this.netmapLive || !this.nodeKey) return;
    const req = this.mapRequest(false);
    const key = hostinfoKey(req.Hostinfo);
    if (key === this.lastSentHostinfo) return;
    const gen = ++this.liteGen;
    const sig = this.session?.signal;
    void (async () => {
      let failures = 0;
      while (gen === this.liteGen && sig && !sig.aborted) {
        try {
          await this.controlClient().mapUpdate(this.mapRequest(false), { signal: sig });
          this.lastSentHostinfo = key;
          this.counters.liteUpdates++;
          this.log.info('backend: sent Hostinfo update', { hostname: req.Hostinfo.Hostname });
          return;
        } catch (e) {
          if (sig.aborted) return;
          failures++;
          this.log.warn('backend: Hostinfo update failed; retrying', { err: e });
          if (!(await sleep(this.clock, backoffDelay(failures, this.random), sig))) return;
        }
      }
    })();
  }
}
