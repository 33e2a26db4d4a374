// The slice of tailcfg.DERPMap the DERP client and netcheck read (tailscale tailcfg/derpmap.go).
// Structural types, so the netmap's zod-parsed DERPMap (main/engine/netmap) is accepted as is;
// the validation of control's JSON lives there.

export interface DerpNode {
  Name: string;
  RegionID: number;
  HostName: string;
  /** Expected cert name, or `sha256-raw:<hex>` = pin of the raw leaf certificate. */
  CertName?: string | undefined;
  /** IPv4 literal to dial; empty = resolve HostName; any other non-IP string (e.g. "none") = no IPv4. */
  IPv4?: string | undefined;
  IPv6?: string | undefined;
  /** 0/absent = 3478, -1 = STUN disabled on this node. */
  STUNPort?: number | undefined;
  STUNOnly?: boolean | undefined;
  /** 0/absent = 443. */
  DERPPort?: number | undefined;
  InsecureForTests?: boolean | undefined;
  STUNTestIP?: string | undefined;
  CanPort80?: boolean | undefined;
}

export interface DerpRegion {
  RegionID: number;
  RegionCode: string;
  RegionName?: string | undefined;
  Avoid?: boolean | undefined;
  NoMeasureNoHome?: boolean | undefined;
  Nodes?: readonly DerpNode[] | null | undefined;
}

export interface DerpMap {
  Regions?: Record<string, DerpRegion | null> | null | undefined;
  HomeParams?: { RegionScore?: Record<string, number> | null | undefined } | null | undefined;
}

export function regionsOf(m: DerpMap): DerpRegion[] {
  return Object.values(m.Regions ?? {})
    .filter((r): r is DerpRegion => r != null)
    .sort((a, b) => a.RegionID - b.RegionID);
}

export function derpPort(n: DerpNode): number {
  return n.DERPPort && n.DERPPort > 0 ? n.DERPPort : 443;
}

/** Undefined when STUN is disabled on the node (STUNPort -1). */
export function stunPort(n: DerpNode): number | undefined {
  if (n.STUNPort === -1) return undefined;
  return n.STUNPort && n.STUNPort > 0 ? n.STUNPort : 3478;
}
