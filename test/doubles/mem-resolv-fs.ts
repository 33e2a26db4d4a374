// An in-memory ResolvFS (the file port of DirectResolvConf) for DNS and OS-integration tests:
// files with their modes, no symlinks. Reads return copies, so a test cannot change a file by
// mutating what it read.
import type { ResolvFS } from '../../main/engine/dns/resolv-conf.js';

export class MemResolvFS implements ResolvFS {
  readonly files = new Map<string, { data: Uint8Array; mode: number }>();
  async read(p: string) {
    return this.files.get(p)?.data.slice();
  }
  async write(p: string, data: Uint8Array, mode = 0o644) {
    this.files.set(p, { data: data.slice(), mode });
  }
  async readlink() {
    return undefined;
  }
  async symlink(): Promise<void> {
    throw new Error('no symlinks in this fake');
  }
  async remove(p: string) {
    this.files.delete(p);
  }
  async mode(p: string) {
    return this.files.get(p)?.mode;
  }
  /** The file as text ('' when absent). */
  text(p: string): string {
    return new TextDecoder().decode(this.files.get(p)?.data);
  }
  /** Puts a text file in place, synchronously (for test setup). */
  setText(p: string, text: string, mode = 0o644): void {
    this.files.set(p, { data: new TextEncoder().encode(text), mode });
  }
}
