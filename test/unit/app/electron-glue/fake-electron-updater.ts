// Stand-in for electron-updater: an unpackaged app has no feed (checkForUpdates answers null).
const autoUpdater = {
  autoDownload: true,
  autoInstallOnAppQuit: false,
  logger: undefined as unknown,
  checkForUpdates: async () => null,
  downloadUpdate: async () => undefined,
  quitAndInstall: () => undefined,
  on: () => autoUpdater,
  removeListener: () => autoUpdater,
};
(globalThis as any).__fakeUpdater = autoUpdater;
export default { autoUpdater };
