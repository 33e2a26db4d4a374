// In-memory state (tailscaled's --state=mem:): nothing survives the process, used for tests and
// ephemeral nodes.
import type { StateStore } from '../ports/ports.js';

export class MemoryStateStore implements StateStore {
  private readonly m = new Map<string, string>();
  async get(key: string): Promise<string | undefined> {
    return this.m.get(key);
  }
  async set(key: string, value: string): Promise<void> {
    this.m.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.m.delete(key);
  }
}
