// UPnP IGD text: SSDP discovery answers, the root description (recorded-style, miniupnpd 2.3.1's
// shape), SOAP requests and answers/faults, and the gateway's /proc/net/route.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildSoapRequest, dedupeSsdp, parseRootDesc, parseSoapResponse, parseSsdpResponse, SSDP_SEARCH_ALL, SSDP_SEARCH_IGD, xmlLeaf,
} from '../../../main/engine/portmapper/upnp.js';
import { defaultRouteFromProc, likelyHomeRouter } from '../../../main/engine/portmapper/system.js';
import { GW, ROOT_DESC, SSDP_ANSWER } from './fake-gateway.js';

const enc = (s: string) => new TextEncoder().encode(s);

test('M-SEARCH packets: ssdp:all and InternetGatewayDevice:1, as tailscale sends them', () => {
  assert.equal(new TextDecoder().decode(SSDP_SEARCH_ALL), 'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: ssdp:all\r\nMAN: "ssdp:discover"\r\nMX: 2\r\n\r\n');
  assert.match(new TextDecoder().decode(SSDP_SEARCH_IGD), /\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n/);
});

test('SSDP answer from miniupnpd: location, server, USN', () => {
  const r = parseSsdpResponse(enc(SSDP_ANSWER));
  assert.ok(r.ok);
  assert.equal(r.value.location, `http://${GW}:5000/rootDesc.xml`);
  assert.equal(r.value.server, 'Debian/6.18 UPnP/1.1 MiniUPnPd/2.3.1');
  assert.match(r.value.usn, /::urn:schemas-upnp-org:device:InternetGatewayDevice:1$/);
});

test('SSDP: not-IGD, non-200, bad headers and bad locations are dropped with a reason', () => {
  assert.deepEqual(parseSsdpResponse(enc('HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:MediaServer:1\r\nLOCATION: http://10.9.0.5/d.xml\r\n\r\n')), { ok: false, reason: 'ssdp-not-igd' });
  assert.deepEqual(parseSsdpResponse(enc('NOTIFY * HTTP/1.1\r\n\r\n')), { ok: false, reason: 'ssdp-not-200' });
  assert.deepEqual(parseSsdpResponse(enc('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n')), { ok: false, reason: 'ssdp-bad-header' });
  assert.deepEqual(parseSsdpResponse(enc(SSDP_ANSWER.replace(`http://${GW}:5000/rootDesc.xml`, 'not a url'))), { ok: false, reason: 'ssdp-bad-location' });
  assert.deepEqual(parseSsdpResponse(enc(SSDP_ANSWER.replace('http://', 'file://'))), { ok: false, reason: 'ssdp-bad-location' });
  assert.deepEqual(parseSsdpResponse(new Uint8Array(9000)), { ok: false, reason: 'ssdp-too-long' });
});

test('SSDP answers for one device collapse to one, IGD:2 preferred', () => {
  const a = { location: 'http://10.9.0.1:5000/rootDesc.xml', server: 's', usn: 'uuid:x::urn:schemas-upnp-org:device:InternetGatewayDevice:1', st: '' };
  const b = { ...a, usn: 'uuid:x::urn:schemas-upnp-org:device:InternetGatewayDevice:2' };
  const c = { ...a, location: 'http://10.9.0.2:80/d.xml' };
  const out = dedupeSsdp([a, c, b, a]);
  assert.equal(out.length, 2);
  assert.equal(out[0]!.usn, b.usn);
});

test('root description: the WANIPConnection:2 control URL, resolved against the description URL', () => {
  const r = parseRootDesc(ROOT_DESC, `http://${GW}:5000/rootDesc.xml`, GW);
  assert.deepEqual(r, { ok: true, value: [{ serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:2', controlUrl: `http://${GW}:5000/ctl/IPConn` }] });
});

test('root description: URLBase, best service first, a foreign host repointed at the gateway, namespaced tags', () => {
  const xml = `<?xml version="1.0"?><d:root xmlns:d="urn:schemas-upnp-org:device-1-0"><d:URLBase>http://192.168.77.1:49000/</d:URLBase><d:device><d:serviceList>
    <d:service><d:serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</d:serviceType><d:controlURL>/ppp?a=1&amp;b=2</d:controlURL></d:service>
    <d:service><d:serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</d:serviceType><d:controlURL>upnp/control/ip1</d:controlURL></d:service>
  </d:serviceList></d:device></d:root>`;
  const r = parseRootDesc(xml, `http://${GW}:5000/desc.xml`, GW);
  assert.ok(r.ok);
  assert.deepEqual(r.value.map((s) => [s.serviceType.split(':').slice(-2).join(':'), s.controlUrl]), [
    ['WANIPConnection:1', `http://${GW}:49000/upnp/control/ip1`],
    ['WANPPPConnection:1', `http://${GW}:49000/ppp?a=1&b=2`],
  ]);
});

test('root description without a WAN service, or not a description at all, is rejected', () => {
  assert.deepEqual(parseRootDesc('<root><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><controlURL>/x</controlURL></service></serviceList></device></root>', 'http://10.9.0.1/', GW), { ok: false, reason: 'upnp-no-wan-service' });
  assert.deepEqual(parseRootDesc('<html>hello</html>', 'http://10.9.0.1/', GW), { ok: false, reason: 'upnp-desc-not-root' });
});

test('SOAP request: action, arguments in order, escaped, SOAPAction header', () => {
  const r = buildSoapRequest('urn:schemas-upnp-org:service:WANIPConnection:2', 'AddAnyPortMapping', [['NewRemoteHost', ''], ['NewExternalPort', 41641], ['NewPortMappingDescription', 'a<b&c']]);
  assert.equal(r.headers.SOAPAction, '"urn:schemas-upnp-org:service:WANIPConnection:2#AddAnyPortMapping"');
  assert.match(r.body, /<s:Body><u:AddAnyPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2"><NewRemoteHost><\/NewRemoteHost><NewExternalPort>41641<\/NewExternalPort><NewPortMappingDescription>a&lt;b&amp;c<\/NewPortMappingDescription><\/u:AddAnyPortMapping><\/s:Body>/);
});

test('SOAP answers as miniupnpd sent them: values, faults with the UPnP error code, junk', () => {
  const ok = '<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2"><NewExternalIPAddress>11.0.0.2</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>';
  assert.deepEqual(parseSoapResponse(200, ok, 'GetExternalIPAddress', ['NewExternalIPAddress']), { ok: true, value: { ok: true, values: { NewExternalIPAddress: '11.0.0.2' } } });
  const fault = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>606</errorCode><errorDescription>Action not authorized</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>';
  assert.deepEqual(parseSoapResponse(500, fault, 'AddAnyPortMapping', ['NewReservedPort']), { ok: true, value: { ok: false, errorCode: 606, description: 'Action not authorized' } });
  assert.deepEqual(parseSoapResponse(200, ok, 'AddAnyPortMapping', ['NewReservedPort']), { ok: false, reason: 'soap-no-response-element' });
  assert.deepEqual(parseSoapResponse(200, ok, 'GetExternalIPAddress', ['NewOther']), { ok: false, reason: 'soap-missing-value' });
  assert.deepEqual(parseSoapResponse(502, 'Bad Gateway', 'GetExternalIPAddress', []), { ok: false, reason: 'soap-http-status' });
  assert.equal(xmlLeaf('<a:X attr="1"> 5 &amp; 6 </a:X>', 'X'), '5 & 6');
});

test('/proc/net/route: the default gateway; only a private gateway with our address beside it counts', () => {
  const route = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t0100090A\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t0000090A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  ].join('\n');
  assert.deepEqual(defaultRouteFromProc(route), { iface: 'eth0', gateway: '10.9.0.1' });
  const ifaces = { eth0: [{ address: '10.9.0.10', netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: '10.9.0.10/24' }] } as never;
  assert.deepEqual(likelyHomeRouter(route, ifaces), { gateway: '10.9.0.1', self: '10.9.0.10' });
  // A public gateway (a cloud VM, the lab's public hosts): nothing to ask.
  assert.equal(likelyHomeRouter(route.replace('0100090A', '010200C0'), ifaces), undefined);
  // No default route.
  assert.equal(defaultRouteFromProc(route.split('\n').filter((l) => !l.includes('\t00000000\t0100090A')).join('\n')), undefined);
});
