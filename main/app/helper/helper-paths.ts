// Where the installers put the privileged helper's socket, per OS (assets/installer: the systemd
// unit, the LaunchDaemon plist, the Windows service). One place, so the app and the installer tests
// agree: macOS has no /run, Windows has named pipes.
export function helperSocketPath(platform: NodeJS.Platform): string {
  if (platform === 'darwin') return '/var/run/meshtray/helper.sock';
  if (platform === 'win32') return '\\\\.\\pipe\\meshtray-helper';
  return '/run/meshtray/helper.sock';
}
