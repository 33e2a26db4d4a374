#!/bin/sh
# deb/rpm post-remove: stop the helper (it restores routes and DNS on SIGTERM) and remove the unit.
set -e
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now meshtray-helper.service 2>/dev/null || true
  rm -f /etc/systemd/system/meshtray-helper.service
  systemctl daemon-reload || true
fi
