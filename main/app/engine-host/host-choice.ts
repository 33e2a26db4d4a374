// Where the engine runs for this app instance (README "Which host runs the engine"): attach to a
// running meshtrayd over its LocalAPI socket when one is there (servers, run-unattended, the lab),
// else host the engine in this process and send privileged OS work to the helper. Before trusting
// a socket we check who owns it (Mullvad's verifyOwnership: root, or ourselves for a dev daemon),
// so another local user cannot impersonate the engine.

export interface SocketInfo {
  /** uid of the socket file's owner. */
  uid: number;
  isSocket: boolean;
}

export interface HostProbe {
  /** undefined when the path does not exist. */
  stat(path: string): Promise<SocketInfo | undefined>;
  /** Does something answer on this socket right now? */
  answers(path: string): Promise<boolean>;
  currentUid(): number;
}

export type HostChoice =
  | { mode: 'attached'; socketPath: string }
  /** helperSocketPath is undefined when the helper is not installed: the engine then runs control-plane only. */
  | { mode: 'in-process'; helperSocketPath: string | undefined; reason: string }
  | { mode: 'unavailable'; reason: string };

export interface HostChoiceOptions {
  daemonSocketPaths: readonly string[];
  helperSocketPath: string;
  /**
   * False for builds that cannot install the helper (AppImage): they host the engine only when a
   * helper installed by a package is already there (issue 7: "AppImage only as a client of an
   * installed helper or daemon"), never control-plane only.
   */
  canHostInProcess: boolean;
}

export async function chooseEngineHost(probe: HostProbe, o: HostChoiceOptions): Promise<HostChoice> {
  const skipped: string[] = [];
  for (const path of o.daemonSocketPaths) {
    const info = await probe.stat(path);
    if (!info) continue;
    if (!info.isSocket) {
      skipped.push(`${path} is not a socket`);
      continue;
    }
    if (info.uid !== 0 && info.uid !== probe.currentUid()) {
      skipped.push(`${path} is owned by uid ${info.uid}, neither root nor us`);
      continue;
    }
    if (await probe.answers(path)) return { mode: 'attached', socketPath: path };
    skipped.push(`${path} does not answer`);
  }
  const why = skipped.length ? ` (${skipped.join('; ')})` : '';
  const helper = await probe.stat(o.helperSocketPath);
  const helperUsable = helper !== undefined && helper.isSocket && helper.uid === 0;
  if (!o.canHostInProcess && !helperUsable) {
    return { mode: 'unavailable', reason: `No running meshtrayd or installed Meshtray helper was found${why}; this build (AppImage) needs one of them, installed by the deb/rpm package or as a meshtrayd service.` };
  }
  if (!helperUsable) {
    // Still useful: log in, see the tailnet, change settings. Carrying traffic needs the helper.
    return {
      mode: 'in-process',
      helperSocketPath: undefined,
      reason: `no running meshtrayd${why}; the privileged helper at ${o.helperSocketPath} is not installed or not owned by root, so this device can log in and see the tailnet but cannot carry traffic`,
    };
  }
  return { mode: 'in-process', helperSocketPath: o.helperSocketPath, reason: `no running meshtrayd${why}` };
}
