// electron-updater behind the Updater port. autoDownload is off (the policy decides when),
// autoInstallOnAppQuit is on (install on quit). Signature checks stay electron-updater's own
// (Windows publisherName, macOS code signature); their failures reach the policy as errors.
// deb/rpm updates carry no signature electron-updater could check: their integrity is the sha512
// in latest-linux.yml, fetched over HTTPS (a mismatch is ERR_CHECKSUM_MISMATCH and the file is
// dropped). test/unit/app/update-policy.test.ts runs the real DebUpdater/NsisUpdater against a feed.
import type { AvailableUpdate, Updater } from './update-policy.js';

/** The slice of electron-updater's AppUpdater we use (keeps electron out of tests). */
export interface AppUpdaterLike {
  autoDownload: boolean;
  autoInstallOnAppQuit: boolean;
  checkForUpdates(): Promise<{ isUpdateAvailable?: boolean; updateInfo: { version: string } } | null>;
  downloadUpdate(): Promise<unknown>;
  quitAndInstall(isSilent?: boolean, isForceRunAfter?: boolean): void;
  on(event: 'download-progress', fn: (p: { percent: number }) => void): unknown;
  removeListener(event: 'download-progress', fn: (p: { percent: number }) => void): unknown;
}

export function adaptElectronUpdater(u: AppUpdaterLike): Updater {
  u.autoDownload = false;
  u.autoInstallOnAppQuit = true;
  return {
    async check(): Promise<AvailableUpdate | null> {
      const r = await u.checkForUpdates();
      // null: updater disabled (dev build, no app-update.yml); isUpdateAvailable false: same or older version.
      if (!r || r.isUpdateAvailable === false) return null;
      return { version: r.updateInfo.version };
    },
    async download(onProgress) {
      const fn = (p: { percent: number }): void => onProgress(p.percent);
      u.on('download-progress', fn);
      try {
        await u.downloadUpdate();
      } finally {
        u.removeListener('download-progress', fn);
      }
    },
    quitAndInstall() {
      u.quitAndInstall(false, true);
    },
  };
}
