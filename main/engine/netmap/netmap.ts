// The one network map: self node, peers, DERP map, DNS config, packet filter, user profiles.
// Everything else in the engine (status, DNS, the data plane, the UI) reads it from here.
//
// `apply` implements full vs delta MapResponses exactly as tailscale's mapSession does
// (control/controlclient/map.go: handleNonKeepAliveMapResponse, upgradeNode,
// removeUnwantedDiscoUpdates*, updateStateFromResponse, updatePeersStateFromResponse; control.md §7.5).
//
// Cost model: a delta costs time proportional to the change, never to the map. Peers live in a
// Map by node ID with secondary indexes by node key, address and name; a changed peer is a new
// (frozen, shallow-copied) object, so nothing else is copied. The name-sorted view is built lazily
// and patched in place when a change does not move a peer in the order.
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Clock } from '../ports/ports.js';
import { canonicalIP, containsExitRoutes } from './ip.js';
import { formatGoTime, goTimeToMs, isZeroTime } from './go-time.js';
import type {
  DERPMap,
  DisplayMessage,
  DNSConfig,
  FilterRule,
  MapResponse,
  Node,
  PeerChange,
  SSHPolicy,
  TailcfgUserProfile,
} from './tailcfg.js';

export type NodeID = number;

/**
 * A node after normalisation (upgradeNode): `AllowedIPs` filled from `Addresses` when control sent
 * none, `HomeDERP` resolved (legacy "DERP" string folded in), client-computed names dropped.
 */
export type NetNode = Readonly<Node & { AllowedIPs: string[]; HomeDERP: number }>;

/** What one `apply` changed, so subscribers (status, data plane, UI notifications) can react. */
export interface NetMapChange {
  /** A keep-alive: nothing in the model changed. */
  readonly keepAlive: boolean;
  /** This message started a new map stream (everything was rebuilt from it). */
  readonly newStream: boolean;
  /** The peer set was rebuilt from a complete list (`Peers`, or the first message of a stream). */
  readonly fullPeers: boolean;
  readonly selfChanged: boolean;
  readonly peersAdded: readonly NodeID[];
  readonly peersRemoved: readonly NodeID[];
  readonly peersChanged: readonly NodeID[];
  readonly derpMapChanged: boolean;
  readonly dnsConfigChanged: boolean;
  readonly packetFilterChanged: boolean;
  readonly userProfilesChanged: boolean;
  readonly domainChanged: boolean;
  readonly sshPolicyChanged: boolean;
  readonly collectServicesChanged: boolean;
  readonly healthChanged: boolean;
  readonly displayMessagesChanged: boolean;
}

/** True when the change touched nothing a subscriber would see. */
export function isEmptyChange(c: NetMapChange): boolean {
  return (
    !c.selfChanged &&
    c.peersAdded.length === 0 &&
    c.peersRemoved.length === 0 &&
    c.peersChanged.length === 0 &&
    !c.derpMapChanged &&
    !c.dnsConfigChanged &&
    !c.packetFilterChanged &&
    !c.userProfilesChanged &&
    !c.domainChanged &&
    !c.sshPolicyChanged &&
    !c.collectServicesChanged &&
    !c.healthChanged &&
    !c.displayMessagesChanged
  );
}

export interface NetMapOptions {
  /** Used for PeerSeenChange (LastSeen = now). */
  clock: Clock;
}

/** tailcfg.DerpMagicIP: the legacy "DERP" string is "127.3.3.40:<region>". */
const DERP_MAGIC_IP = '127.3.3.40';
const ZERO_DISCO = 'discokey:' + '0'.repeat(64);

function legacyDERPRegion(s: string | null | undefined): number {
  if (!s) return 0;
  const colon = s.lastIndexOf(':');
  if (colon < 0 || s.slice(0, colon) !== DERP_MAGIC_IP) return 0;
  const port = s.slice(colon + 1);
  return /^\d+$/.test(port) ? Number(port) : 0;
}

/**
 * upgradeNode (tailscale control/controlclient/map.go) on a shallow copy: never mutates the
 * caller's object. `self` also folds deprecated Capabilities into CapMap keys with null values.
 */
function normalizeNode(n: Node, self: boolean): NetNode {
  const out: Record<string, unknown> = { ...n };
  let home = n.HomeDERP ?? 0;
  if (n.DERP !== undefined) {
    if (home === 0) home = legacyDERPRegion(n.DERP);
    delete out['DERP'];
  }
  out['HomeDERP'] = home;
  const addrs = n.Addresses ?? [];
  let allowed = n.AllowedIPs;
  if (allowed == null) allowed = addrs.slice();
  // Unsigned peers are not covered by tailnet lock: a control server must not route more to them.
  if (n.UnsignedPeerAPIOnly && !sameList(allowed, addrs)) allowed = addrs.slice();
  out['AllowedIPs'] = allowed;
  // ComputedName* are computed client-side; never trust values from the wire (control.md §8).
  delete out['ComputedName'];
  delete out['ComputedNameWithHost'];
  if (self && n.Capabilities && n.Capabilities.length > 0) {
    const cm: Record<string, unknown[] | null> = { ...(n.CapMap ?? {}) };
    for (const c of n.Capabilities) if (!(c in cm)) cm[c] = null;
    out['CapMap'] = cm;
  }
  return Object.freeze(out) as NetNode;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Lower-case name without the trailing dot: the key of the name index. */
function nameKey(name: string | undefined): string {
  if (!name) return '';
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n.toLowerCase();
}

/** The IP part of a canonical prefix ("100.64.0.1/32" → "100.64.0.1"). */
function prefixAddr(p: string): string {
  const slash = p.indexOf('/');
  return slash < 0 ? p : p.slice(0, slash);
}

/** Sort order of the peer list: name, then ID (names are unique per tailnet, IDs break ties). */
function comparePeers(a: NetNode, b: NetNode): number {
  const ka = nameKey(a.Name);
  const kb = nameKey(b.Name);
  if (ka < kb) return -1;
  if (ka > kb) return 1;
  return a.ID - b.ID;
}

/** dnsname.TrimSuffix: drop the trailing dot, then ".suffix" if the name ends with it. */
function trimSuffix(name: string, suffix: string): string {
  let n = name.endsWith('.') ? name.slice(0, -1) : name;
  const s = suffix.endsWith('.') ? suffix.slice(0, -1) : suffix;
  if (s && n.toLowerCase().endsWith('.' + s.toLowerCase())) n = n.slice(0, n.length - s.length - 1);
  return n;
}

/** Mutable change record used while applying one message. */
class ChangeBuilder {
  added = new Set<NodeID>();
  removed = new Set<NodeID>();
  changed = new Set<NodeID>();
  self = false;
  derp = false;
  dns = false;
  filter = false;
  users = false;
  domain = false;
  ssh = false;
  collect = false;
  health = false;
  display = false;

  peerRemoved(id: NodeID): void {
    if (this.added.delete(id)) return; // added and removed in one message: no net change
    this.changed.delete(id);
    this.removed.add(id);
  }
  peerAdded(id: NodeID): void {
    // PeersRemoved is applied before PeersChanged: removed then re-added = changed.
    if (this.removed.delete(id)) this.changed.add(id);
    else this.added.add(id);
  }
  peerChanged(id: NodeID): void {
    if (!this.added.has(id)) this.changed.add(id);
  }
  build(keepAlive: boolean, newStream: boolean, fullPeers: boolean): NetMapChange {
    return {
      keepAlive,
      newStream,
      fullPeers,
      selfChanged: this.self,
      peersAdded: [...this.added],
      peersRemoved: [...this.removed],
      peersChanged: [...this.changed],
      derpMapChanged: this.derp,
      dnsConfigChanged: this.dns,
      packetFilterChanged: this.filter,
      userProfilesChanged: this.users,
      domainChanged: this.domain,
      sshPolicyChanged: this.ssh,
      collectServicesChanged: this.collect,
      healthChanged: this.health,
      displayMessagesChanged: this.display,
    };
  }
}

export class NetMap {
  private readonly clock: Clock;

  // Per-stream state (a new map stream starts from nothing: tailscale makes a new mapSession per poll).
  private awaitingFirst = true;
  private selfNode: NetNode | undefined;
  private byId = new Map<NodeID, NetNode>();
  private idByKey = new Map<string, NodeID>();
  private idByAddr = new Map<string, NodeID>();
  private idByName = new Map<string, NodeID>();
  private derp: DERPMap | undefined;
  private dns: DNSConfig | undefined;
  private namedFilters = new Map<string, readonly FilterRule[]>();
  private filterRules: readonly FilterRule[] | undefined;
  private users = new Map<number, TailcfgUserProfile>();
  private domainName = '';
  private ssh: SSHPolicy | undefined;
  private collect = false;
  private healthMsgs: readonly string[] = [];
  private display = new Map<string, DisplayMessage>();
  private lastControlTime: string | undefined;

  // Lazily built views.
  private sorted: NetNode[] | undefined;
  private sortedPos: Map<NodeID, number> | undefined;
  private peersVersion = 0;
  private exitCache: { version: number; list: readonly NetNode[] } | undefined;

  constructor(opts: NetMapOptions) {
    this.clock = opts.clock;
  }

  /**
   * Call when a new map poll (Stream:true request) begins. The current map stays readable until
   * that stream's first real message arrives, which then replaces everything (control.md §7.5).
   */
  startStream(): void {
    this.awaitingFirst = true;
  }

  /** Forgets everything (logout, profile switch): no self node, no peers, nothing to show. */
  clear(): void {
    this.resetStreamState();
    this.selfNode = undefined;
    this.lastControlTime = undefined;
    this.awaitingFirst = true;
  }

  /** True once a stream's first message has been applied (there is a netmap to show). */
  get hasNetmap(): boolean {
    return this.selfNode !== undefined;
  }

  /**
   * Applies one validated MapResponse (from parseMapResponse). Takes the message as read-only.
   * Throws MeshtrayError(ERR_CONTROL_PROTOCOL) without touching the model when the first
   * non-keep-alive message of a stream lacks `Node` (tailscale aborts the stream in that case);
   * otherwise it cannot fail, so the model is never half-updated.
   */
  apply(resp: MapResponse): NetMapChange {
    const newStream = this.awaitingFirst && !resp.KeepAlive;
    if (newStream && !resp.Node) {
      throw new MeshtrayError('ERR_CONTROL_PROTOCOL', 'first MapResponse of the stream has no Node');
    }
    // ControlTime counts on keep-alives too (mapSession handles it before the keep-alive check).
    if (resp.ControlTime && !isZeroTime(resp.ControlTime)) this.lastControlTime = resp.ControlTime;
    if (resp.KeepAlive) return new ChangeBuilder().build(true, false, false);

    // Everything that can be computed without mutating, first.
    const self = resp.Node ? normalizeNode(resp.Node, true) : undefined;
    const full = resp.Peers && resp.Peers.length > 0 ? resp.Peers.map((n) => normalizeNode(n, false)) : undefined;
    const changedPeers = !full && resp.PeersChanged ? resp.PeersChanged.map((n) => normalizeNode(n, false)) : undefined;

    const cb = new ChangeBuilder();
    let fullPeers = false;
    if (newStream) {
      this.awaitingFirst = false;
      const old = this.byId;
      this.resetStreamState();
      this.applyPeers(resp, full, changedPeers, cb);
      this.diffPeers(old, cb);
      fullPeers = true;
      cb.derp = cb.dns = cb.filter = cb.users = cb.domain = cb.ssh = cb.collect = cb.health = cb.display = true;
    } else if (full) {
      const old = this.byId;
      this.applyPeers(resp, full, undefined, cb);
      this.diffPeers(old, cb);
      fullPeers = true;
    } else {
      this.applyPeers(resp, undefined, changedPeers, cb);
    }
    if (self) {
      this.selfNode = self;
      cb.self = true;
    }
    this.applyRest(resp, cb);
    return cb.build(false, newStream, fullPeers);
  }

  private resetStreamState(): void {
    this.byId = new Map();
    this.idByKey = new Map();
    this.idByAddr = new Map();
    this.idByName = new Map();
    this.derp = undefined;
    this.dns = undefined;
    this.namedFilters = new Map();
    this.filterRules = undefined;
    this.users = new Map();
    this.domainName = '';
    this.ssh = undefined;
    this.collect = false;
    this.healthMsgs = [];
    this.display = new Map();
    this.invalidateSorted();
  }

  // ---- peers ----------------------------------------------------------------------------------

  private applyPeers(resp: MapResponse, full: NetNode[] | undefined, changed: NetNode[] | undefined, cb: ChangeBuilder): void {
    if (full) {
      // Not delta encoded: the peer set becomes exactly this list, and the message's other
      // peer fields are ignored ("Peers precludes all other delta operations").
      const prev = this.byId;
      this.byId = new Map();
      this.idByKey = new Map();
      this.idByAddr = new Map();
      this.idByName = new Map();
      for (let n of full) {
        n = this.keepNewerDisco(prev.get(n.ID), n);
        this.byId.set(n.ID, n);
        this.index(n);
      }
      this.invalidateSorted();
      return;
    }

    for (const id of resp.PeersRemoved ?? []) {
      const old = this.byId.get(id);
      if (!old) continue;
      this.byId.delete(id);
      this.unindex(old);
      this.invalidateSorted();
      cb.peerRemoved(id);
    }

    for (const n of changed ?? []) {
      const old = this.byId.get(n.ID);
      this.put(old, n);
      if (old) cb.peerChanged(n.ID);
      else cb.peerAdded(n.ID);
    }

    if (resp.PeerSeenChange) {
      const now = formatGoTime(this.clock.now());
      for (const [idText, seen] of Object.entries(resp.PeerSeenChange)) {
        const old = this.byId.get(Number(idText));
        if (!old) continue;
        const mut: Record<string, unknown> = { ...old };
        if (seen) mut['LastSeen'] = now;
        else delete mut['LastSeen'];
        this.put(old, Object.freeze(mut) as NetNode);
        cb.peerChanged(old.ID);
      }
    }

    if (resp.OnlineChange) {
      for (const [idText, online] of Object.entries(resp.OnlineChange)) {
        const old = this.byId.get(Number(idText));
        if (!old) continue;
        this.put(old, Object.freeze({ ...old, Online: online }) as NetNode);
        cb.peerChanged(old.ID);
      }
    }

    for (const pc of resp.PeersChangedPatch ?? []) {
      const old = this.byId.get(pc.NodeID);
      // A patch for an unknown node is ignored, never turned into a new peer.
      if (!old || this.isStaleDiscoPatch(old, pc)) continue;
      this.put(old, patchNode(old, pc));
      cb.peerChanged(old.ID);
    }
  }

  /**
   * removeUnwantedDiscoUpdates (tailscale map.go): a patch that carries a disco key for a node
   * reported offline, with a LastSeen that is not newer than the one we hold, is stale and dropped
   * whole, so an old disco key cannot replace a newer one.
   */
  private isStaleDiscoPatch(old: NetNode, pc: PeerChange): boolean {
    if (pc.DiscoKey == null || pc.Online == null || pc.LastSeen == null) return false;
    if (pc.Online) return false;
    if (!old.LastSeen) return false;
    return !(goTimeToMs(pc.LastSeen) > goTimeToMs(old.LastSeen));
  }

  /**
   * removeUnwantedDiscoUpdatesFromFullNetmapUpdate (tailscale map.go): in a complete peer list, an
   * offline peer whose disco key differs from ours and whose LastSeen is not newer keeps our key
   * and LastSeen.
   */
  private keepNewerDisco(old: NetNode | undefined, n: NetNode): NetNode {
    if (!old || !n.DiscoKey || n.DiscoKey === ZERO_DISCO) return n;
    if (old.DiscoKey === n.DiscoKey || n.Online === true || !old.LastSeen) return n;
    if (n.LastSeen && goTimeToMs(n.LastSeen) > goTimeToMs(old.LastSeen)) return n;
    return Object.freeze({ ...n, DiscoKey: old.DiscoKey, LastSeen: old.LastSeen }) as NetNode;
  }

  /** Replaces (or adds) one peer, keeping indexes and the sorted view consistent in O(1). */
  private put(old: NetNode | undefined, n: NetNode): void {
    this.byId.set(n.ID, n);
    if (old) this.reindex(old, n);
    else this.index(n);
    this.peersVersion++;
    if (!old || nameKey(old.Name) !== nameKey(n.Name)) {
      this.invalidateSorted();
      return;
    }
    const pos = this.sortedPos?.get(n.ID);
    if (this.sorted && pos !== undefined) this.sorted[pos] = n;
  }

  private index(n: NetNode): void {
    this.idByKey.set(n.Key, n.ID);
    for (const a of n.Addresses ?? []) this.idByAddr.set(prefixAddr(a), n.ID);
    const k = nameKey(n.Name);
    if (k) this.idByName.set(k, n.ID);
  }

  /**
   * Updates only the index entries that differ between the old and new version of a node. Besides
   * doing less work, this matters for speed: V8's Map keeps deleted entries in their hash bucket's
   * chain until the next rehash, so deleting and re-adding the SAME key on every delta makes that
   * key's lookups O(map size) (measured: 70 µs per delete+set at 10,000 entries vs 1 µs at 100).
   */
  private reindex(old: NetNode, n: NetNode): void {
    if (old.Key !== n.Key) {
      if (this.idByKey.get(old.Key) === old.ID) this.idByKey.delete(old.Key);
    }
    if (this.idByKey.get(n.Key) !== n.ID) this.idByKey.set(n.Key, n.ID);

    const oldAddrs = old.Addresses ?? [];
    const newAddrs = n.Addresses ?? [];
    if (oldAddrs !== newAddrs && !sameList(oldAddrs, newAddrs)) {
      for (const a of oldAddrs) {
        if (newAddrs.includes(a)) continue;
        const ip = prefixAddr(a);
        if (this.idByAddr.get(ip) === old.ID) this.idByAddr.delete(ip);
      }
    }
    for (const a of newAddrs) {
      const ip = prefixAddr(a);
      if (this.idByAddr.get(ip) !== n.ID) this.idByAddr.set(ip, n.ID);
    }

    const ok = nameKey(old.Name);
    const nk = nameKey(n.Name);
    if (ok !== nk && ok && this.idByName.get(ok) === old.ID) this.idByName.delete(ok);
    if (nk && this.idByName.get(nk) !== n.ID) this.idByName.set(nk, n.ID);
  }

  /** Removes index entries that still point at this node (a misbehaving server may reuse a key). */
  private unindex(n: NetNode): void {
    if (this.idByKey.get(n.Key) === n.ID) this.idByKey.delete(n.Key);
    for (const a of n.Addresses ?? []) {
      const ip = prefixAddr(a);
      if (this.idByAddr.get(ip) === n.ID) this.idByAddr.delete(ip);
    }
    const k = nameKey(n.Name);
    if (k && this.idByName.get(k) === n.ID) this.idByName.delete(k);
  }

  private invalidateSorted(): void {
    this.sorted = undefined;
    this.sortedPos = undefined;
    this.peersVersion++;
  }

  /** Added/removed/changed between the previous peer set and the current one (full rebuilds only). */
  private diffPeers(old: Map<NodeID, NetNode>, cb: ChangeBuilder): void {
    cb.added.clear();
    cb.removed.clear();
    cb.changed.clear();
    for (const id of this.byId.keys()) (old.has(id) ? cb.changed : cb.added).add(id);
    for (const id of old.keys()) if (!this.byId.has(id)) cb.removed.add(id);
  }

  // ---- everything but peers --------------------------------------------------------------------

  private applyRest(resp: MapResponse, cb: ChangeBuilder): void {
    if (resp.UserProfiles && resp.UserProfiles.length > 0) {
      for (const up of resp.UserProfiles) this.users.set(up.ID, Object.freeze({ ...up }));
      cb.users = true;
    }
    if (resp.DERPMap) {
      this.derp = mergeDERPMap(this.derp, resp.DERPMap);
      cb.derp = true;
    }
    if (resp.PacketFilter != null || resp.PacketFilters != null) {
      if (resp.PacketFilter != null) this.namedFilters.set('base', resp.PacketFilter);
      const pfs = resp.PacketFilters;
      if (pfs) {
        if ('*' in pfs && pfs['*'] === null) this.namedFilters.clear();
        for (const [name, rules] of Object.entries(pfs)) {
          if (name === '*') continue;
          if (rules === null) this.namedFilters.delete(name);
          else this.namedFilters.set(name, rules);
        }
      }
      // Effective rules: chunks concatenated in sorted name order (order does not affect matching).
      const concat: FilterRule[] = [];
      for (const name of [...this.namedFilters.keys()].sort()) concat.push(...this.namedFilters.get(name)!);
      this.filterRules = concat;
      cb.filter = true;
    }
    if (resp.DNSConfig) {
      this.dns = normalizeDNS(resp.DNSConfig);
      cb.dns = true;
    }
    if (resp.SSHPolicy) {
      this.ssh = resp.SSHPolicy;
      cb.ssh = true;
    }
    if (resp.CollectServices != null && resp.CollectServices !== this.collect) {
      this.collect = resp.CollectServices;
      cb.collect = true;
    }
    if (resp.Domain && resp.Domain !== this.domainName) {
      this.domainName = resp.Domain;
      cb.domain = true;
    }
    if (resp.Health != null) {
      this.healthMsgs = resp.Health.slice();
      cb.health = true;
    }
    if (resp.DisplayMessages) {
      const dm = resp.DisplayMessages;
      if ('*' in dm && dm['*'] === null) this.display.clear();
      for (const [id, msg] of Object.entries(dm)) {
        if (id === '*') continue;
        if (msg === null) this.display.delete(id);
        else this.display.set(id, msg);
      }
      cb.display = true;
    }
  }

  // ---- accessors -------------------------------------------------------------------------------

  /** The self node (undefined before the first map message). */
  get self(): NetNode | undefined {
    return this.selfNode;
  }

  get peerCount(): number {
    return this.byId.size;
  }

  /**
   * Peers sorted by name (then ID). The array is cached and may be updated in place by later
   * applies; copy it to keep a snapshot.
   */
  peers(): readonly NetNode[] {
    if (!this.sorted) {
      this.sorted = [...this.byId.values()].sort(comparePeers);
      this.sortedPos = new Map(this.sorted.map((n, i) => [n.ID, i]));
    }
    return this.sorted;
  }

  peerByID(id: NodeID): NetNode | undefined {
    return this.byId.get(id);
  }

  /** By node key text ("nodekey:…", either hex case). */
  peerByKey(nodeKey: string): NetNode | undefined {
    const id = this.idByKey.get(nodeKey.toLowerCase());
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** The peer owning this tailnet address (one of its Addresses), in any spelling of the IP. */
  peerByIP(ip: string): NetNode | undefined {
    const c = canonicalIP(ip);
    if (c === undefined) return undefined;
    const id = this.idByAddr.get(c);
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** By MagicDNS FQDN (trailing dot optional, any case) or short name within our MagicDNS suffix. */
  peerByName(name: string): NetNode | undefined {
    const k = nameKey(name);
    if (!k) return undefined;
    let id = this.idByName.get(k);
    if (id === undefined && !k.includes('.')) {
      const suffix = this.magicDNSSuffix.toLowerCase();
      if (suffix && suffix !== k) id = this.idByName.get(`${k}.${suffix}`);
    }
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Peers offered as exit nodes: AllowedIPs contain BOTH 0.0.0.0/0 and ::/0 (tsaddr.ContainsExitRoutes). */
  exitNodeOptions(): readonly NetNode[] {
    const peers = this.peers();
    if (!this.exitCache || this.exitCache.version !== this.peersVersion) {
      this.exitCache = { version: this.peersVersion, list: peers.filter((p) => containsExitRoutes(p.AllowedIPs)) };
    }
    return this.exitCache.list;
  }

  /** By StableID (what an exit-node preference stores). O(n): meant for rare lookups, not per packet. */
  peerByStableID(stableID: string): NetNode | undefined {
    for (const n of this.byId.values()) if (n.StableID === stableID) return n;
    return undefined;
  }

  get derpMap(): DERPMap | undefined {
    return this.derp;
  }

  /** RegionCode of a DERP region ID ("" if unknown), as tailscale status shows it in Relay. */
  derpRegionCode(regionID: number): string {
    if (!regionID) return '';
    const r = this.derp?.Regions?.[String(regionID)];
    return r?.RegionCode ?? '';
  }

  get dnsConfig(): DNSConfig | undefined {
    return this.dns;
  }

  /** Effective inbound rules (all named chunks); undefined = none received yet; [] = deny all. */
  get packetFilter(): readonly FilterRule[] | undefined {
    return this.filterRules;
  }

  get userProfiles(): ReadonlyMap<number, TailcfgUserProfile> {
    return this.users;
  }

  /** Tailnet display name from control (Headscale: its server host), not the MagicDNS suffix. */
  get domain(): string {
    return this.domainName;
  }

  get sshPolicy(): SSHPolicy | undefined {
    return this.ssh;
  }

  get collectServices(): boolean {
    return this.collect;
  }

  get health(): readonly string[] {
    return this.healthMsgs;
  }

  get displayMessages(): ReadonlyMap<string, DisplayMessage> {
    return this.display;
  }

  /** Latest ControlTime seen (keep-alives included), for expiry maths with clock skew. */
  get controlTime(): string | undefined {
    return this.lastControlTime;
  }

  /**
   * netmap.MagicDNSSuffix: the self node's Name minus its first label, no dots at either end
   * ("laptop.example.com." → "example.com"); a single-label name is returned as is (tailscale does so).
   */
  get magicDNSSuffix(): string {
    const name = (this.selfNode?.Name ?? '').replace(/^\.+|\.+$/g, '');
    const dot = name.indexOf('.');
    return dot >= 0 ? name.slice(dot + 1) : name;
  }

  /**
   * Node.InitDisplayNames: the name without our MagicDNS suffix, else the Hostinfo hostname, else
   * the node key.
   */
  displayName(n: NetNode): string {
    const name = trimSuffix(n.Name ?? '', this.magicDNSSuffix);
    if (name) return name;
    return n.Hostinfo?.Hostname || n.Key;
  }
}

/** Applies one PeerChange to a copy of the node (only fields present and non-zero). */
function patchNode(old: NetNode, pc: PeerChange): NetNode {
  const mut: Record<string, unknown> = { ...old };
  if (pc.DERPRegion) mut['HomeDERP'] = pc.DERPRegion;
  if (pc.Cap) mut['Cap'] = pc.Cap;
  if (pc.Endpoints != null) mut['Endpoints'] = pc.Endpoints;
  if (pc.Key != null) mut['Key'] = pc.Key;
  if (pc.DiscoKey != null) mut['DiscoKey'] = pc.DiscoKey;
  if (pc.Online != null) mut['Online'] = pc.Online;
  if (pc.LastSeen != null) mut['LastSeen'] = pc.LastSeen;
  if (pc.KeyExpiry != null) mut['KeyExpiry'] = pc.KeyExpiry;
  if (pc.KeySignature != null) mut['KeySignature'] = pc.KeySignature;
  if (pc.CapMap != null) mut['CapMap'] = pc.CapMap;
  return Object.freeze(mut) as NetNode;
}

/**
 * DERPMap "nil means unchanged" merge (updateStateFromResponse): null regions are dropped (seen
 * from Headscale); null Regions keeps the previous regions and omitDefaultRegions; null HomeParams
 * keeps the previous ones, and inside it a null RegionScore keeps the previous scores.
 */
function mergeDERPMap(prev: DERPMap | undefined, dm: DERPMap): DERPMap {
  const out: DERPMap = { ...dm };
  if (dm.Regions) {
    const regions: NonNullable<DERPMap['Regions']> = {};
    for (const [id, r] of Object.entries(dm.Regions)) if (r !== null) regions[id] = r;
    out.Regions = regions;
  }
  if (prev) {
    if (dm.Regions == null) {
      out.Regions = prev.Regions ?? null;
      if (prev.omitDefaultRegions !== undefined) out.omitDefaultRegions = prev.omitDefaultRegions;
      else delete out.omitDefaultRegions;
    }
    if (dm.HomeParams == null) {
      if (prev.HomeParams != null) out.HomeParams = prev.HomeParams;
    } else if (prev.HomeParams != null && dm.HomeParams.RegionScore == null) {
      out.HomeParams = { ...dm.HomeParams, RegionScore: prev.HomeParams.RegionScore ?? null };
    }
  }
  return Object.freeze(out);
}

/** A null Routes entry decodes to a nil slice in Go, which behaves like [] ("answer locally"); keep it as []. */
function normalizeDNS(c: DNSConfig): DNSConfig {
  if (!c.Routes) return Object.freeze({ ...c });
  const routes: Record<string, NonNullable<NonNullable<DNSConfig['Routes']>[string]>> = {};
  for (const [suffix, rs] of Object.entries(c.Routes)) routes[suffix] = rs ?? [];
  return Object.freeze({ ...c, Routes: routes });
}
