// Which IPC senders main trusts: only our own window's webContents, and only while it shows our
// own page (file:// of the packaged renderer or the app:// scheme). VS Code's validatedIpcMain and
// Electron's security checklist (item 17, "validate the sender of all IPC messages") ask for this.

/** What main knows about whoever sent an IPC message (Electron: event.sender.id, event.senderFrame.url). */
export interface IpcSender {
  webContentsId: number;
  frameUrl: string;
}

export interface SenderPolicy {
  /** undefined when trusted, else the reason for the refusal (logged and returned as ERR_FORBIDDEN). */
  refusal(sender: IpcSender): string | undefined;
}

export interface SenderPolicyOptions {
  /** The webContents ids of our own windows right now. */
  trustedWebContents: () => ReadonlySet<number>;
  /** Allowed page origins/prefixes, e.g. the file:// URL of dist/renderer/index.html or "app://meshtray". */
  allowedUrlPrefixes: readonly string[];
}

export function createSenderPolicy(opts: SenderPolicyOptions): SenderPolicy {
  return {
    refusal(sender) {
      if (!opts.trustedWebContents().has(sender.webContentsId)) return `unknown webContents ${sender.webContentsId}`;
      let url: URL;
      try {
        url = new URL(sender.frameUrl);
      } catch {
        return `unparsable frame URL`;
      }
      // Compare on the parsed form so "file:///x/../evil" tricks do not pass a string prefix test.
      const normalized = url.protocol === 'file:' ? `file://${url.pathname}` : `${url.protocol}//${url.host}${url.pathname}`;
      // An entry ending in "/" allows everything below it; any other entry must match exactly.
      if (!opts.allowedUrlPrefixes.some((p) => (p.endsWith('/') ? normalized.startsWith(p) : normalized === p))) {
        return `frame ${url.protocol}//${url.host}${url.pathname} is not our page`;
      }
      return undefined;
    },
  };
}
