// The real file operations for DirectResolvConf.
import { chmod, lstat, open, readFile, readlink, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import type { ResolvFS } from './resolv-conf.js';

export const nodeResolvFS: ResolvFS = {
  async read(path) {
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  },
  async write(path, data, mode = 0o644) {
    const tmp = join(dirname(path), `.${basename(path)}.meshtray-tmp`);
    await writeFile(tmp, data, { mode });
    await chmod(tmp, mode);
    try {
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      const code = (e as NodeJS.ErrnoException).code;
      // A bind-mounted file (ip netns exec, containers) cannot be replaced: rewrite it in place.
      if (code !== 'EBUSY' && code !== 'EXDEV' && code !== 'EPERM') throw e;
      const fh = await open(path, 'r+');
      try {
        await fh.truncate(0);
        await fh.write(data, 0, data.length, 0);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  },
  async remove(path) {
    await unlink(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  },
  async readlink(path) {
    try {
      return (await lstat(path)).isSymbolicLink() ? await readlink(path) : undefined;
    } catch {
      return undefined;
    }
  },
  async symlink(target, path) {
    const tmp = join(dirname(path), `.${basename(path)}.meshtray-link`);
    await unlink(tmp).catch(() => undefined);
    await symlink(target, tmp);
    await rename(tmp, path);
  },
  async mode(path) {
    try {
      return (await stat(path)).mode & 0o7777;
    } catch {
      return undefined;
    }
  },
};
