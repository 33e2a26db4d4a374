// A stand-in for the privileged helper (run as root inside a test namespace with
// `ip netns exec`): opens the TUN and the marked UDP socket with the addon's openTunFd/openUdpFd,
// serves ONE connection on a unix socket by sending both descriptors with its reply line
// (sendFds on the accepted Node socket's descriptor), closes its own copies and exits.
// Usage: node fd-handover-helper.js <socketPath> <tunName> <addr,addr,...> <fwmark>
// Prints one JSON line when ready: {"tun":{"fd","name","offload"},"udp":{"fd","port"}}.
import { createServer } from 'node:net';
import { chmodSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { addonCandidates } from '../../../main/engine/dataplane/native-loader.js';

interface FdApi {
  openTunFd(o: { name: string; mtu: number; addresses?: string[]; offload?: boolean }): { fd: number; name: string; offload: boolean };
  openUdpFd(o: { port: number; fwmark?: number }): { fd: number; port: number };
  sendFds(socketFd: number, data: Uint8Array, fds: number[]): void;
  closeFd(fd: number): void;
}

const [socketPath, tunName, addrs, mark] = process.argv.slice(2);
if (!socketPath || !tunName || addrs === undefined || mark === undefined) throw new Error('usage: fd-handover-helper <socket> <tun> <addrs> <fwmark>');
const api = createRequire(import.meta.url)(addonCandidates().find((p) => existsSync(p))!) as FdApi;

const tun = api.openTunFd({ name: tunName, mtu: 1280, addresses: addrs ? addrs.split(',') : [], offload: false });
const udp = api.openUdpFd({ port: 0, fwmark: Number(mark) });

const srv = createServer((s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d.toString();
    if (!buf.includes('\n')) return;
    const req = JSON.parse(buf.slice(0, buf.indexOf('\n'))) as { op: string };
    const reply = JSON.stringify({ ok: true, op: req.op, tun: { name: tun.name, port: udp.port } }) + '\n';
    api.sendFds((s as unknown as { _handle: { fd: number } })._handle.fd, Buffer.from(reply), [tun.fd, udp.fd]);
    // The receiver has its own references now; ours must go, or the TUN would outlive its user.
    api.closeFd(tun.fd);
    api.closeFd(udp.fd);
    s.end();
    srv.close();
  });
});
srv.listen(socketPath, () => {
  chmodSync(socketPath, 0o666); // the unprivileged receiver connects
  console.log(JSON.stringify({ tun, udp }));
});
setTimeout(() => process.exit(3), 60_000).unref();
