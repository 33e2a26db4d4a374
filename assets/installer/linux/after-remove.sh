#!/bin/sh
# deb postrm / rpm %postun for Meshtray (electron-builder `afterRemove`; it replaces the default
# template, so it also removes the /usr/bin link and the AppArmor profile). On removal: stop and disable the helper if
# before-remove.sh did not (a stopped helper restores routes and DNS; its code is still in memory
# although its files are gone), remove the unit, reload systemd. On purge also the helper's state
# directory (not meshtrayd's state beside it) and the meshtray group. On an upgrade (deb "upgrade", rpm $1 = 1) nothing is removed.
# Dollar-brace names are electron-builder macros here (see after-install.sh).
# MESHTRAY_INSTALL_ROOT: see after-install.sh.
set -eu
ROOT="${MESHTRAY_INSTALL_ROOT:-}"
APP_DIR="/opt/${sanitizedProductName}"
EXE_NAME='${executable}'
UNIT="/etc/systemd/system/meshtray-helper.service"
ACTION="${1:-remove}"
case "$ACTION" in
  remove|purge|0) ;;
  *) exit 0 ;;
esac

if command -v update-alternatives >/dev/null 2>&1; then
  update-alternatives --remove "$EXE_NAME" "$APP_DIR/$EXE_NAME" || true
else
  rm -f "$ROOT/usr/bin/$EXE_NAME"
fi

PROFILE="$ROOT/etc/apparmor.d/$EXE_NAME"
if [ -f "$PROFILE" ]; then
  if command -v apparmor_parser >/dev/null 2>&1 && ! { [ -x /usr/bin/ischroot ] && /usr/bin/ischroot; }; then
    apparmor_parser --remove "$PROFILE" || true
  fi
  rm -f "$PROFILE"
fi

if [ -d "$ROOT/run/systemd/system" ] && command -v systemctl >/dev/null 2>&1; then
  systemctl stop meshtray-helper.service || true
  systemctl disable meshtray-helper.service || true
fi
rm -f "$ROOT$UNIT"
if [ -d "$ROOT/run/systemd/system" ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
  systemctl reset-failed meshtray-helper.service 2>/dev/null || true
fi

if [ "$ACTION" = "purge" ]; then
  rm -rf "$ROOT/var/lib/meshtray/helper"
  rmdir "$ROOT/var/lib/meshtray" 2>/dev/null || true
  if getent group meshtray >/dev/null 2>&1; then groupdel meshtray || true; fi
fi
exit 0
