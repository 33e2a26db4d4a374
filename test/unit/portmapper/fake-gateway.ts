// A scripted home router for the port mapper's unit tests: the PortmapIO port backed by an
// in-memory NAT-PMP / PCP / UPnP IGD implementation (the RFC 6886 / RFC 6887 / WANIPConnection:2
// behaviour miniupnpd showed in the lab), with switches to turn services off, refuse, change the
// epoch, or answer garbage. Everything the client sends is recorded.
import type { GatewayInfo, PortmapAddr, PortmapHttpRequest, PortmapHttpResponse, PortmapIO, PortmapUdp } from '../../../main/engine/portmapper/io.js';

export const GW = '10.9.0.1';
export const SELF = '10.9.0.10';
export const WAN = '11.0.0.2';

export interface Sent { to: PortmapAddr; pkt: Uint8Array }
export interface Mapping { proto: 'udp'; externalPort: number; internalIp: string; internalPort: number; lifetimeS: number; via: string; nonce?: string }

export class FakeGateway implements PortmapIO {
  pmp = true;
  pcp = true;
  upnp = true;
  epoch = 1000;
  /** NAT-PMP result code for map requests (0 = OK). */
  pmpMapResult = 0;
  /** A slow router: this many NAT-PMP map requests go unanswered before one is answered. */
  pmpSlowMaps = 0;
  /** Ports already taken by someone else (UPnP AddPortMapping → 718). */
  taken = new Set<number>();
  /** Replace every answer to a PXP request with these bytes (malformed-reply tests). */
  garbage: Uint8Array | undefined;
  /** Extra datagrams sent to the client's socket right after each request (from, bytes). */
  noise: { from: PortmapAddr; pkt: Uint8Array }[] = [];
  gateway: () => GatewayInfo | undefined = () => ({ gateway: GW, self: SELF });
  readonly sent: Sent[] = [];
  readonly http: (r: PortmapHttpRequest) => Promise<PortmapHttpResponse>;
  readonly httpLog: PortmapHttpRequest[] = [];
  readonly mappings = new Map<string, Mapping>();
  openSockets = 0;
  private nextPort = 40000;

  constructor() {
    this.http = async (r) => {
      this.httpLog.push(r);
      if (!this.upnp) throw new Error('ECONNREFUSED');
      if (r.method === 'GET' && r.url === `http://${GW}:5000/rootDesc.xml`) return { status: 200, body: ROOT_DESC };
      if (r.method === 'POST' && r.url === `http://${GW}:5000/ctl/IPConn`) return this.soap(r);
      return { status: 404, body: '' };
    };
  }

  openUdp = async (): Promise<PortmapUdp> => {
    let cb: ((pkt: Uint8Array, from: PortmapAddr) => void) | undefined;
    let closed = false;
    this.openSockets++;
    const deliver = (pkt: Uint8Array, from: PortmapAddr) => setImmediate(() => { if (!closed) cb?.(pkt, from); });
    return {
      send: (pkt, ip, port) => {
        if (closed) throw new Error('socket closed');
        this.sent.push({ to: { ip, port }, pkt: pkt.slice() });
        for (const n of this.noise) deliver(n.pkt, n.from);
        const answers = this.answer(pkt, ip, port);
        for (const a of answers) deliver(a, { ip: GW, port: port === 1900 ? 1900 : 5351 });
      },
      onMessage: (f) => { cb = f; },
      close: () => { if (!closed) { closed = true; this.openSockets--; } },
    };
  };

  private answer(pkt: Uint8Array, ip: string, port: number): Uint8Array[] {
    if (port === 1900 && (ip === GW || ip === '239.255.255.250')) {
      if (!this.upnp) return [];
      const text = new TextDecoder().decode(pkt);
      if (!text.startsWith('M-SEARCH')) return [];
      return [new TextEncoder().encode(SSDP_ANSWER)];
    }
    if (ip !== GW || port !== 5351) return [];
    if (this.garbage) return [this.garbage];
    const v = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
    if (pkt[0] === 0) {
      if (!this.pmp) return [];
      if (pkt[1] === 0 && pkt.length === 2) return [pmpHeader(0, 0, this.epoch, [11, 0, 0, 2])];
      if (pkt[1] === 1 && pkt.length === 12) {
        const internal = v.getUint16(4);
        const suggested = v.getUint16(6);
        const life = v.getUint32(8);
        if (this.pmpMapResult) return [pmpMap(this.pmpMapResult, this.epoch, internal, 0, 0)];
        if (life > 0 && this.pmpSlowMaps > 0) {
          this.pmpSlowMaps--;
          return [];
        }
        const key = `udp/${SELF}/${internal}`;
        if (life === 0) {
          this.mappings.delete(key);
          return [pmpMap(0, this.epoch, internal, 0, 0)];
        }
        const old = this.mappings.get(key);
        const ext = old?.externalPort ?? (suggested || this.nextPort++);
        this.mappings.set(key, { proto: 'udp', externalPort: ext, internalIp: SELF, internalPort: internal, lifetimeS: life, via: 'pmp' });
        return [pmpMap(0, this.epoch, internal, ext, life)];
      }
      return [];
    }
    if (pkt[0] === 2) {
      if (!this.pcp) return [];
      const op = pkt[1]!;
      const out = new Uint8Array(op === 1 ? 60 : 24);
      const o = new DataView(out.buffer);
      out[0] = 2;
      out[1] = 0x80 | op;
      o.setUint32(8, this.epoch);
      if (op === 0) return [out];
      if (op === 1) {
        out.set(pkt.subarray(24, 60), 24);
        const life = v.getUint32(4);
        const internal = v.getUint16(40);
        const key = `udp/${SELF}/${internal}`;
        const nonce = Buffer.from(pkt.subarray(24, 36)).toString('hex');
        const old = this.mappings.get(key);
        if (old && old.nonce !== nonce) { out[3] = 2; return [out]; } // NOT_AUTHORIZED: someone else's mapping
        if (life === 0) {
          this.mappings.delete(key);
          return [out];
        }
        const ext = old?.externalPort ?? (v.getUint16(42) || this.nextPort++);
        this.mappings.set(key, { proto: 'udp', externalPort: ext, internalIp: SELF, internalPort: internal, lifetimeS: life, via: 'pcp', nonce });
        o.setUint32(4, life);
        o.setUint16(42, ext);
        out.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 11, 0, 0, 2], 44);
        return [out];
      }
    }
    return [];
  }

  private soap(r: PortmapHttpRequest): PortmapHttpResponse {
    const body = r.body ?? '';
    const action = /#(\w+)"/.exec(r.headers?.SOAPAction ?? '')?.[1] ?? '';
    const arg = (k: string) => new RegExp(`<${k}>([^<]*)</${k}>`).exec(body)?.[1] ?? '';
    const ok = (inner: string) => ({ status: 200, body: `<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:${action}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2">${inner}</u:${action}Response></s:Body></s:Envelope>\r\n` });
    const fault = (code: number, desc: string) => ({ status: 500, body: `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${desc}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>` });
    switch (action) {
      case 'GetExternalIPAddress':
        return ok(`<NewExternalIPAddress>${WAN}</NewExternalIPAddress>`);
      case 'AddAnyPortMapping': {
        if (arg('NewInternalClient') !== SELF) return fault(606, 'Action not authorized');
        let ext = Number(arg('NewExternalPort'));
        while (this.taken.has(ext)) ext++;
        this.mappings.set(`udp/${SELF}/${arg('NewInternalPort')}`, { proto: 'udp', externalPort: ext, internalIp: SELF, internalPort: Number(arg('NewInternalPort')), lifetimeS: Number(arg('NewLeaseDuration')), via: 'upnp' });
        return ok(`<NewReservedPort>${ext}</NewReservedPort>`);
      }
      case 'DeletePortMapping': {
        const ext = Number(arg('NewExternalPort'));
        for (const [k, m] of this.mappings) if (m.externalPort === ext) { this.mappings.delete(k); return ok(''); }
        return fault(714, 'NoSuchEntryInArray');
      }
      default:
        return fault(401, 'Invalid Action');
    }
  }
}

function pmpHeader(op: number, result: number, epoch: number, ip: number[]): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  b[1] = 0x80 | op;
  v.setUint16(2, result);
  v.setUint32(4, epoch);
  b.set(ip, 8);
  return b;
}

function pmpMap(result: number, epoch: number, internal: number, ext: number, life: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  b[1] = 0x81;
  v.setUint16(2, result);
  v.setUint32(4, epoch);
  v.setUint16(8, internal);
  v.setUint16(10, ext);
  v.setUint32(12, life);
  return b;
}

/** An SSDP answer as miniupnpd 2.3.1 sent it in the lab (uuid changed). */
export const SSDP_ANSWER = [
  'HTTP/1.1 200 OK',
  'CACHE-CONTROL: max-age=120',
  'ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1',
  'USN: uuid:00000000-1111-2222-3333-444444444444::urn:schemas-upnp-org:device:InternetGatewayDevice:1',
  'EXT:',
  'SERVER: Debian/6.18 UPnP/1.1 MiniUPnPd/2.3.1',
  `LOCATION: http://${GW}:5000/rootDesc.xml`,
  'OPT: "http://schemas.upnp.org/upnp/1/0/"; ns=01',
  '01-NLS: 1795472558',
  'BOOTID.UPNP.ORG: 1795472558',
  'CONFIGID.UPNP.ORG: 1337',
  '', '',
].join('\r\n');

/** miniupnpd 2.3.1's root description, shape as served in the lab (trimmed descriptive fields). */
export const ROOT_DESC = `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337"><specVersion><major>1</major><minor>1</minor></specVersion><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><friendlyName>Debian router</friendlyName><UDN>uuid:00000000-1111-2222-3333-444444444444</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId><SCPDURL>/L3F.xml</SCPDURL><controlURL>/ctl/L3F</controlURL><eventSubURL>/evt/L3F</eventSubURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId><SCPDURL>/WANCfg.xml</SCPDURL><controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service><service><serviceType>urn:schemas-upnp-org:service:WANIPv6FirewallControl:1</serviceType><serviceId>urn:upnp-org:serviceId:WANIPv6Firewall1</serviceId><SCPDURL>/WANIP6FC.xml</SCPDURL><controlURL>/ctl/IP6FCtl</controlURL><eventSubURL>/evt/IP6FCtl</eventSubURL></service></serviceList></device></deviceList></device></deviceList><presentationURL>http://${GW}/</presentationURL></device></root>`;
