// A LocalAPI backend double: records calls, serves a fixed status, and lets a test push Notify
// messages to every watcher (snapshot first, like the real backend).
import type { LocalApiBackend } from '../../main/engine/localapi/server.js';
import type { Notify } from '../../common/schemas/notify.js';
import { defaultPrefs, type Prefs } from '../../common/schemas/prefs.js';
import type { Status } from '../../common/schemas/status.js';
import { MeshtrayError } from '../../common/errors/errors.js';

export function emptyStatus(over: Partial<Status> = {}): Status {
  return {
    Version: '0.1.0',
    TUN: false,
    BackendState: 'NeedsLogin',
    HaveNodeKey: false,
    AuthURL: '',
    TailscaleIPs: null,
    Self: null,
    Health: null,
    MagicDNSSuffix: '',
    CurrentTailnet: null,
    Peer: null,
    User: null,
    ...over,
  };
}

export class FakeLocalApiBackend implements LocalApiBackend {
  calls: Array<{ name: string; req: unknown }> = [];
  prefs: Prefs = defaultPrefs();
  statusValue: Status = emptyStatus();
  private readonly subs = new Set<(n: Notify) => void>();

  get watcherCount(): number {
    return this.subs.size;
  }
  publish(n: Notify): void {
    for (const s of this.subs) s(n);
  }
  watch(fn: (n: Notify) => void): () => void {
    fn({ State: this.statusValue.BackendState, Prefs: this.prefs, Status: this.statusValue });
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }
  async status(): Promise<Status> {
    this.calls.push({ name: 'status', req: {} });
    return this.statusValue;
  }
  async getPrefs(): Promise<Prefs> {
    this.calls.push({ name: 'getPrefs', req: {} });
    return this.prefs;
  }
  async editPrefs(mp: Partial<Prefs>): Promise<Prefs> {
    this.calls.push({ name: 'editPrefs', req: mp });
    this.prefs = { ...this.prefs, ...mp };
    return this.prefs;
  }
  async start(req: unknown): Promise<Record<string, never>> {
    this.calls.push({ name: 'start', req });
    return {};
  }
  async loginInteractive(): Promise<Record<string, never>> {
    this.calls.push({ name: 'loginInteractive', req: {} });
    return {};
  }
  async down(): Promise<Record<string, never>> {
    this.calls.push({ name: 'down', req: {} });
    return {};
  }
  async logout(): Promise<Record<string, never>> {
    this.calls.push({ name: 'logout', req: {} });
    throw new MeshtrayError('ERR_NEEDS_LOGIN', 'not logged in');
  }
  async ping(): Promise<never> {
    throw new MeshtrayError('ERR_NO_SUCH_PEER', 'no such peer');
  }
}
