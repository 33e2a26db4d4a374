// A ControlClient double: the test scripts register answers and drives map streams by hand
// (send a message, end the stream, fail it), so the backend's state machine runs without a server.
import type { ControlClientFactory, ControlClientPort } from '../../main/engine/backend/control-port.js';
import type { MapRequest, RegisterRequest, RegisterResponse } from '../../main/engine/control/messages.js';

export interface FakeStream {
  req: MapRequest;
  signal: AbortSignal;
  send(msg: unknown): void;
  /** Server ends the stream normally. */
  end(): void;
  fail(err: Error): void;
  readonly closed: boolean;
}

type Answer = RegisterResponse | Error | ((req: RegisterRequest, signal?: AbortSignal) => Promise<RegisterResponse>);

export class FakeControl implements ControlClientPort {
  registers: RegisterRequest[] = [];
  updates: MapRequest[] = [];
  streams: FakeStream[] = [];
  /** Answers used in order; when empty, `defaultAnswer` is used. */
  answers: Answer[] = [];
  defaultAnswer: Answer = okRegister();
  closedCount = 0;
  /** PingRequests the backend answered (answerPing calls). */
  pings: { URL: string; URLIsNoise?: boolean | undefined }[] = [];
  serverURL = '';

  factory: ControlClientFactory = (opts) => {
    this.serverURL = opts.serverURL;
    return this;
  };

  async register(req: RegisterRequest, opts?: { signal?: AbortSignal }): Promise<RegisterResponse> {
    this.registers.push(structuredClone(req));
    const a = this.answers.length ? this.answers.shift()! : this.defaultAnswer;
    if (a instanceof Error) throw a;
    if (typeof a === 'function') return a(req, opts?.signal);
    return structuredClone(a);
  }

  mapStream(req: MapRequest, onMessage: (msg: unknown) => void, opts: { signal: AbortSignal }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let closed = false;
      const s: FakeStream = {
        req: structuredClone(req),
        signal: opts.signal,
        send: (m) => {
          if (!closed) onMessage(m);
        },
        end: () => {
          if (closed) return;
          closed = true;
          resolve();
        },
        fail: (e) => {
          if (closed) return;
          closed = true;
          reject(e);
        },
        get closed() {
          return closed;
        },
      };
      opts.signal.addEventListener('abort', () => s.fail(new Error('aborted')), { once: true });
      this.streams.push(s);
    });
  }

  async mapUpdate(req: MapRequest, _opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
    this.updates.push(structuredClone(req));
  }

  async answerPing(req: { URL: string; URLIsNoise?: boolean | undefined }): Promise<number> {
    this.pings.push({ ...req });
    return 200;
  }

  close(): void {
    this.closedCount++;
  }

  get lastStream(): FakeStream | undefined {
    return this.streams.at(-1);
  }
}

export function okRegister(over: Partial<RegisterResponse> = {}): RegisterResponse {
  return {
    User: { ID: 1, DisplayName: 'alice' },
    Login: { ID: 1, LoginName: 'alice@', DisplayName: 'alice' },
    NodeKeyExpired: false,
    MachineAuthorized: true,
    AuthURL: '',
    Error: '',
    ...over,
  };
}
