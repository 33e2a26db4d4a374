// The helper's real descriptor work: the native addon opens the TUN and the UDP socket with the
// bypass mark (the unprivileged app cannot set SO_MARK, tailscale tsconst/linuxfw.go 0x80000, so
// WireGuard, disco and STUN stay out of table 52), and sends them with SCM_RIGHTS.
import type { Socket } from 'node:net';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { BYPASS_MARK, type CommandRunner } from '../../engine/router/router.js';
import type { HelperTun } from './helper-server.js';
import type { NativeFdApi } from './native-fds.js';

export function nativeHelperTun(api: NativeFdApi, runner: CommandRunner): HelperTun {
  return {
    open(o) {
      // Without offloads: the data plane then reads plain IP packets from the handed descriptor,
      // whatever it assumes about a virtio-net header it did not negotiate itself.
      const tun = api.openTunFd({ name: o.name, mtu: o.mtu, addresses: o.addresses, offload: false });
      let udp: { fd: number; port: number };
      try {
        udp = api.openUdpFd({ port: o.port, fwmark: BYPASS_MARK });
      } catch (e) {
        api.closeFd(tun.fd);
        throw new MeshtrayError('ERR_INTERNAL', `opening the UDP socket failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      return { tunFd: tun.fd, udpFd: udp.fd, name: tun.name, port: udp.port, offload: tun.offload };
    },
    send(s: Socket, line: string, fds: number[]) {
      const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) throw new Error('no descriptor for the connection');
      api.sendFds(fd, new TextEncoder().encode(line), fds);
    },
    close(fd) {
      try {
        api.closeFd(fd);
      } catch {
        /* already closed */
      }
    },
    async remove(name) {
      const r = await runner.run(['ip', 'link', 'del', 'dev', name]);
      // Gone already (the app closed the last descriptor of a non-persistent TUN): nothing to do.
      if (r.code !== 0 && !/Cannot find device|does not exist/i.test(r.stderr)) throw new MeshtrayError('ERR_INTERNAL', `ip link del ${name}: ${r.stderr.trim()}`);
    },
  };
}
