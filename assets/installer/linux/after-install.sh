#!/bin/sh
# deb postinst / rpm %post for Meshtray (electron-builder `afterInstall`). It replaces
# electron-builder's default after-install template, so it also does that template's work (the
# /usr/bin link, chrome-sandbox's mode, desktop database, AppArmor profile), then installs the privileged helper:
#   - the `meshtray` group: its members may use the helper (socket root:meshtray 0660); the user
#     who ran the installer (sudo / pkexec, else the user of the active graphical session) is added;
#   - the systemd unit shipped in resources/helper/ goes to /etc/systemd/system, enabled and
#     (re)started when systemd is running (an upgrade restarts the new helper).
# electron-builder expands dollar-brace-name macros in this file (FpmTarget writeConfigFile); unknown
# names fail the build, so shell variables here are written $NAME or with an underscore in braces.
# MESHTRAY_INSTALL_ROOT prefixes every path (empty in a real install; a temp dir in
# test/unit/installer/linux-scripts.test.ts, which runs this file with stubbed system tools).
set -eu
ROOT="${MESHTRAY_INSTALL_ROOT:-}"
APP_DIR="/opt/${sanitizedProductName}"
EXE_NAME='${executable}'
HELPER="$APP_DIR/resources/helper/meshtray-helper"
UNIT_SRC="$APP_DIR/resources/helper/meshtray-helper.service"
UNIT="/etc/systemd/system/meshtray-helper.service"
GROUP=meshtray

# --- electron-builder's default after-install duties ---
if command -v update-alternatives >/dev/null 2>&1; then
  update-alternatives --install "/usr/bin/$EXE_NAME" "$EXE_NAME" "$APP_DIR/$EXE_NAME" 100 || ln -sf "$APP_DIR/$EXE_NAME" "$ROOT/usr/bin/$EXE_NAME"
else
  ln -sf "$APP_DIR/$EXE_NAME" "$ROOT/usr/bin/$EXE_NAME"
fi
# Chromium's sandbox: SUID only where user namespaces do not work.
if [ -e "$ROOT$APP_DIR/chrome-sandbox" ]; then
  if [ -L /proc/self/ns/user ] && unshare --user true 2>/dev/null; then
    chmod 0755 "$ROOT$APP_DIR/chrome-sandbox" || true
  else
    chmod 4755 "$ROOT$APP_DIR/chrome-sandbox" || true
  fi
fi
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database "$ROOT/usr/share/applications" || true
fi
# AppArmor (Ubuntu 24+ restricts unprivileged user namespaces): electron-builder ships
# resources/apparmor-profile so Chromium's sandbox may use them; install it if this AppArmor
# accepts it (dry run first), load it unless in a chroot.
if command -v apparmor_status >/dev/null 2>&1 && apparmor_status --enabled >/dev/null 2>&1; then
  PROFILE_SRC="$ROOT$APP_DIR/resources/apparmor-profile"
  PROFILE_DST="$ROOT/etc/apparmor.d/$EXE_NAME"
  if [ -f "$PROFILE_SRC" ] && apparmor_parser --skip-kernel-load --debug "$PROFILE_SRC" >/dev/null 2>&1; then
    cp -f "$PROFILE_SRC" "$PROFILE_DST"
    if ! { [ -x /usr/bin/ischroot ] && /usr/bin/ischroot; }; then
      apparmor_parser --replace --write-cache --skip-read-cache "$PROFILE_DST" || true
    fi
  else
    echo "meshtray: this AppArmor does not accept the bundled profile; not installing it"
  fi
fi

# --- the privileged helper ---
if [ ! -x "$ROOT$HELPER" ] || [ ! -f "$ROOT$UNIT_SRC" ]; then
  echo "meshtray: $HELPER or its unit is missing; the helper is not installed (the app can log in but not carry traffic)" >&2
  exit 0
fi
# launchd/systemd run it as root: it must not be replaceable by anyone else.
if [ "$(stat -c %u "$ROOT$HELPER")" != "0" ] || [ $(( 0$(stat -c %a "$ROOT$HELPER") & 022 )) -ne 0 ]; then
  echo "meshtray: $HELPER is not root-owned or is writable by others; not installing the helper" >&2
  exit 1
fi

if ! getent group "$GROUP" >/dev/null 2>&1; then
  groupadd --system "$GROUP"
fi
desktop_user() {
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != "root" ]; then echo "$SUDO_USER"; return; fi
  if [ -n "${PKEXEC_UID:-}" ] && [ "$PKEXEC_UID" != "0" ]; then getent passwd "$PKEXEC_UID" | cut -d: -f1; return; fi
  # Installed from a software centre (PackageKit runs as root): the active graphical session's user.
  if command -v loginctl >/dev/null 2>&1; then
    loginctl list-sessions --no-legend 2>/dev/null | while read -r _sid uid user seat _rest; do
      if [ "$uid" -ge 1000 ] 2>/dev/null && [ -n "$seat" ] && [ "$seat" != "-" ]; then echo "$user"; break; fi
    done
  fi
}
USER_NAME="$(desktop_user)"
if [ -n "$USER_NAME" ]; then
  usermod -a -G "$GROUP" "$USER_NAME"
  echo "meshtray: added $USER_NAME to the $GROUP group; log out and back in so Meshtray can use its helper"
else
  echo "meshtray: no desktop user found; add users who run Meshtray with: usermod -a -G $GROUP USER"
fi

install -D -m 0644 "$ROOT$UNIT_SRC" "$ROOT$UNIT"
# sd_booted(): systemd is PID 1 only if /run/systemd/system exists (containers, chroots: not).
if [ -d "$ROOT/run/systemd/system" ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl enable meshtray-helper.service
  systemctl restart meshtray-helper.service || echo "meshtray: the helper did not start; see: journalctl -u meshtray-helper" >&2
else
  echo "meshtray: systemd is not running; start the helper with: $HELPER --socket /run/meshtray/helper.sock --socket-group $GROUP"
fi
exit 0
