// `--socket-group NAME` (the packages' `meshtray` group, assets/installer/linux/meshtray-helper.service):
// the socket is root:<group> 0660, so the kernel refuses everyone else at connect(), and the helper
// checks SO_PEERCRED on top: the peer's primary gid is the group, or its user is listed as a member
// in /etc/group. Read fresh for each connection, so a user added to the group needs no helper
// restart. (Not /proc/<pid>/status: the unit's ProtectProc=invisible hides other users' processes.)
import { readFileSync } from 'node:fs';

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** group(5) lines: name:password:gid:member,member */
export function parseGroupFile(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#') || !/^\d+$/.test(f[2]!)) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

/** passwd(5): uid → user name. */
export function userNameOf(passwd: string, uid: number): string | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[2] === String(uid)) return f[0];
  }
  return undefined;
}

export interface SocketGroup {
  gid: number;
  name: string;
  isMember(cred: { uid: number; gid: number }): boolean;
}

/** Resolves NAME (or a numeric gid) from /etc/group; throws a clear Error if it does not exist. */
export function socketGroup(nameOrGid: string, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): SocketGroup {
  const find = (): GroupEntry | undefined => parseGroupFile(read('/etc/group')).find((g) => g.name === nameOrGid || String(g.gid) === nameOrGid);
  const g = find();
  if (!g) throw new Error(`--socket-group: no group ${JSON.stringify(nameOrGid)} in /etc/group`);
  return {
    gid: g.gid,
    name: g.name,
    isMember(cred) {
      if (cred.gid === g.gid) return true;
      try {
        const now = find();
        const user = userNameOf(read('/etc/passwd'), cred.uid);
        return !!now && user !== undefined && now.members.includes(user);
      } catch {
        return false;
      }
    },
  };
}
