#!/bin/sh
# deb/rpm post-install: enable and start the privileged helper (Mullvad's after-install.sh pattern).
# The unit ships inside the app (resources/meshtray-helper.service); it runs as root and owns
# /run/meshtray/helper.sock, the only thing that touches TUN, addresses, routes and DNS.
set -e
UNIT_SRC="/opt/Meshtray/resources/meshtray-helper.service"
if [ -f "$UNIT_SRC" ] && command -v systemctl >/dev/null 2>&1; then
  install -m 0644 "$UNIT_SRC" /etc/systemd/system/meshtray-helper.service
  systemctl daemon-reload || true
  systemctl enable --now meshtray-helper.service || true
fi
