#!/bin/sh
# deb prerm / rpm %preun (passed to fpm as --before-remove in electron-builder.yml). Runs while the
# helper's files still exist: stop it (on SIGTERM it restores routes, rules and DNS); if it was not
# running but left a state file behind (it crashed), start it once, which repairs at start, then
# stop it. On an upgrade (deb "upgrade", rpm $1 = 1) nothing happens: after-install restarts it.
# MESHTRAY_INSTALL_ROOT: see after-install.sh.
set -eu
ROOT="${MESHTRAY_INSTALL_ROOT:-}"
STATE="/var/lib/meshtray/helper/router-state.json"
case "${1:-remove}" in
  remove|purge|0) ;;
  *) exit 0 ;;
esac
if [ -d "$ROOT/run/systemd/system" ] && command -v systemctl >/dev/null 2>&1; then
  if systemctl is-active --quiet meshtray-helper.service; then
    systemctl stop meshtray-helper.service || true
  elif [ -s "$ROOT$STATE" ]; then
    systemctl start meshtray-helper.service && systemctl stop meshtray-helper.service || true
  fi
  systemctl disable meshtray-helper.service || true
fi
exit 0
