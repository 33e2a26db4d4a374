// Headscale v0.29.2 config and DERP map files (lab.md sections 2 and 4.2). Written by hand as YAML:
// the DERP map is read by yaml.v3 straight into tailcfg.DERPMap, whose region map has integer keys
// (headscale hscontrol/derp/derp.go), so JSON-with-string-keys would not do.
import type { DerpRegion } from './derper.js';

export interface HeadscaleConfigInput {
  dir: string;
  listenIp: string;
  port: number;
  derpMapPath: string;
  /**
   * The metrics/debug listener; '' = none. The lab's Headscale has a namespace to itself, so the
   * default fixed port is fine there; a loopback Headscale in the root namespace passes a free
   * port or '' so parallel runs cannot collide.
   */
  metricsListenAddr?: string;
  /** The gRPC listener; '' = none (the CLI uses the unix socket either way). */
  grpcListenAddr?: string;
}

const q = (s: string): string => JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar

export function renderHeadscaleConfig(c: HeadscaleConfigInput): string {
  const d = (f: string) => q(`${c.dir}/${f}`);
  return [
    `server_url: ${q(`http://${c.listenIp}:${c.port}`)}`,
    `listen_addr: ${q(`${c.listenIp}:${c.port}`)}`,
    `metrics_listen_addr: ${q(c.metricsListenAddr ?? '127.0.0.1:9090')}`,
    `grpc_listen_addr: ${q(c.grpcListenAddr ?? '127.0.0.1:50443')}`,
    `grpc_allow_insecure: false`,
    // else every CLI and serve start asks GitHub for releases (hs: cmd/headscale/cli/root.go)
    `disable_check_updates: true`,
    `noise:`,
    `  private_key_path: ${d('noise_private.key')}`,
    `prefixes:`,
    `  v4: "100.64.0.0/10"`,
    `  v6: "fd7a:115c:a1e0::/48"`,
    `  allocation: sequential`,
    `derp:`,
    `  server:`,
    `    enabled: false`,
    // urls must be empty offline, or Serve aborts fetching Tailscale's map (hs: hscontrol/derp/derp.go)
    `  urls: []`,
    `  paths:`,
    `    - ${q(c.derpMapPath)}`,
    `  auto_update_enabled: false`,
    `  update_frequency: 24h`,
    `node:`,
    `  expiry: 0`,
    `  ephemeral:`,
    `    inactivity_timeout: 70s`,
    `database:`,
    `  type: sqlite`,
    `  sqlite:`,
    `    path: ${d('db.sqlite')}`,
    `    write_ahead_log: true`,
    `log:`,
    `  level: info`,
    `  format: text`,
    // database mode: `headscale policy set -f` works (file mode refuses it, hs: grpcv1.go SetPolicy);
    // no stored policy = allow all.
    `policy:`,
    `  mode: database`,
    `dns:`,
    `  magic_dns: true`,
    `  base_domain: tailnet.test`,
    `  override_local_dns: false`,
    `  nameservers:`,
    `    global: []`,
    `    split: {}`,
    `  search_domains: []`,
    `  extra_records:`,
    `    - { name: "svc.tailnet.test", type: "A", value: "100.64.0.50" }`,
    `unix_socket: ${d(HEADSCALE_SOCKET_NAME)}`,
    `unix_socket_permission: "0770"`,
    `logtail:`,
    `  enabled: false`,
    `taildrop:`,
    `  enabled: true`,
    '',
  ].join('\n');
}

/** The unix socket the config names (for callers that wait for it to appear). */
export const HEADSCALE_SOCKET_NAME = 'headscale.sock';

/** A region without certName is for tests that never dial it (the map only has to be valid). */
export type DerpMapRegion = Omit<DerpRegion, 'certName'> & { certName?: string };

export function renderDerpMap(regions: readonly DerpMapRegion[]): string {
  const out = ['regions:'];
  for (const r of regions) {
    out.push(
      `  ${r.regionId}:`,
      `    regionid: ${r.regionId}`,
      `    regioncode: ${q(r.regionCode)}`,
      `    regionname: ${q(r.regionName)}`,
      `    nodes:`,
      `      - name: ${q(`${r.regionId}a`)}`,
      `        regionid: ${r.regionId}`,
      `        hostname: ${q(r.ip)}`,
      `        ipv4: ${q(r.ip)}`,
      `        ipv6: "none"`,
      `        stunport: ${r.stunPort}`,
      `        derpport: ${r.derpPort}`,
    );
    if (r.certName !== undefined) out.push(`        certname: ${q(r.certName)}`);
  }
  return out.join('\n') + '\n';
}
