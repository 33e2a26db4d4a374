// Status/prefs builders and small doubles for the app-shell tests.
import { defaultPrefs, type Prefs } from '../../../common/schemas/prefs.js';
import type { PeerStatus, Status } from '../../../common/schemas/status.js';
import type { Notify } from '../../../common/schemas/notify.js';
import type { ApiName, ApiRequest, ApiResponse } from '../../../common/contract/api.js';
import type { LogFields, Logger } from '../../../main/engine/ports/ports.js';
import type { EngineConnection } from '../../../main/app/engine-host/engine-connection.js';

export function peer(over: Partial<PeerStatus> & { ID: string; HostName: string }): PeerStatus {
  return {
    PublicKey: `nodekey:${over.ID.padStart(64, '0')}`,
    DNSName: `${over.HostName}.tail.example.`,
    OS: 'linux',
    UserID: 1,
    TailscaleIPs: ['100.64.0.9'],
    CurAddr: '',
    Relay: 'lab1',
    RxBytes: 0,
    TxBytes: 0,
    Created: '2026-11-01T00:00:00Z',
    LastHandshake: '0001-01-01T00:00:00Z',
    Online: true,
    ExitNode: false,
    ExitNodeOption: false,
    Active: false,
    InNetworkMap: true,
    InMagicSock: true,
    InEngine: true,
    ...over,
  };
}

export function status(over: Partial<Status> = {}): Status {
  return {
    Version: '0.1.0',
    TUN: true,
    BackendState: 'Running',
    HaveNodeKey: true,
    AuthURL: '',
    TailscaleIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'],
    Self: peer({ ID: 'self', HostName: 'laptop', TailscaleIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'] }),
    Health: null,
    MagicDNSSuffix: 'tail.example',
    CurrentTailnet: { Name: 'example', MagicDNSSuffix: 'tail.example', MagicDNSEnabled: true },
    Peer: {
      'nodekey:a': peer({ ID: 'n-exit1', HostName: 'exit-fra', ExitNodeOption: true, TailscaleIPs: ['100.64.0.2'] }),
      'nodekey:b': peer({ ID: 'n-exit2', HostName: 'exit-ams', ExitNodeOption: true, Online: false, TailscaleIPs: ['100.64.0.3'] }),
      'nodekey:c': peer({ ID: 'n-desk', HostName: 'desktop', CurAddr: '192.0.2.5:41641', TailscaleIPs: ['100.64.0.4'] }),
    },
    User: { '1': { ID: 1, LoginName: 'alice@example.com', DisplayName: 'Alice' } },
    ...over,
  };
}

export function prefs(over: Partial<Prefs> = {}): Prefs {
  return { ...defaultPrefs(), ControlURL: 'http://127.0.0.1:8080', WantRunning: true, ...over };
}

export class MemLogger implements Logger {
  lines: { level: string; msg: string; fields?: LogFields | undefined }[] = [];
  debug(msg: string, fields?: LogFields): void { this.lines.push({ level: 'debug', msg, fields }); }
  info(msg: string, fields?: LogFields): void { this.lines.push({ level: 'info', msg, fields }); }
  warn(msg: string, fields?: LogFields): void { this.lines.push({ level: 'warn', msg, fields }); }
  error(msg: string, fields?: LogFields): void { this.lines.push({ level: 'error', msg, fields }); }
  child(): Logger { return this; }
}

/** An EngineConnection double: records calls, answers from `answers`, and streams pushed Notify messages. */
export class FakeEngine implements EngineConnection {
  calls: { name: string; req: unknown }[] = [];
  answers: Partial<Record<ApiName, (req: unknown) => unknown>> = {};
  private queue: unknown[] = [];
  private wake: (() => void) | undefined;
  watchCount = 0;

  async call<N extends ApiName>(name: N, request: ApiRequest<N>): Promise<ApiResponse<N>> {
    this.calls.push({ name, req: request });
    const a = this.answers[name];
    return (a ? a(request) : {}) as ApiResponse<N>;
  }
  /** Pushes a message (possibly malformed: tests send bad ones on purpose). */
  push(n: Notify | unknown): void {
    this.queue.push(n);
    this.wake?.();
  }
  async *watch(signal: AbortSignal): AsyncIterable<Notify> {
    this.watchCount++;
    while (!signal.aborted) {
      const n = this.queue.shift();
      if (n !== undefined) {
        yield n as Notify;
        continue;
      }
      await new Promise<void>((r) => {
        this.wake = r;
        signal.addEventListener('abort', () => r(), { once: true });
      });
    }
  }
}
