// The Hostinfo this node reports (control.md §11.1): always the complete object, because
// Headscale replaces what it stores with whatever arrives.
import type { Hostinfo } from '../control/messages.js';
import type { Prefs } from '../../../common/schemas/prefs.js';

export interface HostFacts {
  /** OS hostname (first DNS label is used, like tailscale's hostinfo.New). */
  hostname: string;
  /** Kernel/OS version string. */
  osVersion: string;
  /** Meshtray's version, e.g. "0.1.0"; sent as IPNVersion "meshtray-0.1.0". */
  version: string;
  /** tailscaled's --tun=userspace-networking. */
  userspace?: boolean;
  machine?: string;
}

export function buildHostinfo(facts: HostFacts, prefs: Prefs): Hostinfo {
  const osHost = facts.hostname.split('.')[0] ?? facts.hostname;
  const hi: Hostinfo = {
    IPNVersion: `meshtray-${facts.version}`,
    OS: 'linux',
    OSVersion: facts.osVersion,
    Hostname: prefs.Hostname || osHost,
    RoutableIPs: [...new Set(prefs.AdvertiseRoutes)].sort(),
    ShieldsUp: prefs.ShieldsUp || undefined,
    Userspace: facts.userspace ?? null,
    UserspaceRouter: facts.userspace ?? null,
    NoLogsNoSupport: true,
  };
  if (facts.machine) hi.Machine = facts.machine;
  if (prefs.AdvertiseTags.length) hi.RequestTags = [...prefs.AdvertiseTags];
  return stripUndefined(hi);
}

function stripUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** What the data path knows about our network (DataPathPort.netInfo). */
export interface NetInfoFacts {
  PreferredDERP: number;
  WorkingUDP: boolean | null;
  MappingVariesByDestIP: boolean | null;
  HavePortMap?: boolean;
  UPnP?: boolean | null;
  PMP?: boolean | null;
  PCP?: boolean | null;
}

/**
 * Adds Hostinfo.NetInfo once the data path has a home DERP: peers reach us there before any direct
 * path exists, so control must hear it. Unknown probe results (null) are left out, not sent as false.
 */
export function withNetInfo(hi: Hostinfo, ni: NetInfoFacts | undefined): Hostinfo {
  if (!ni?.PreferredDERP) return hi;
  hi.NetInfo = {
    PreferredDERP: ni.PreferredDERP,
    ...(ni.WorkingUDP !== null ? { WorkingUDP: ni.WorkingUDP } : {}),
    ...(ni.MappingVariesByDestIP !== null ? { MappingVariesByDestIP: ni.MappingVariesByDestIP } : {}),
    // tailcfg.NetInfo: HavePortMap omitted when false, opt.Bool fields omitted when unknown.
    ...(ni.HavePortMap ? { HavePortMap: true } : {}),
    ...(ni.UPnP !== undefined && ni.UPnP !== null ? { UPnP: ni.UPnP } : {}),
    ...(ni.PMP !== undefined && ni.PMP !== null ? { PMP: ni.PMP } : {}),
    ...(ni.PCP !== undefined && ni.PCP !== null ? { PCP: ni.PCP } : {}),
  };
  return hi;
}

/** Stable comparison key: a lite update is sent only when this changes. */
export function hostinfoKey(hi: Hostinfo): string {
  return JSON.stringify(hi, Object.keys(hi).sort());
}
