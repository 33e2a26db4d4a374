#!/usr/bin/env bash
# Installs what the Meshtray lab needs, idempotently (a warm run changes nothing and takes seconds):
#   1. Debian packages (apt-get update only when something is missing),
#   2. tailscaled / tailscale / derper and headscale at the pins in versions.env, built with the
#      ordinary Go client from the Go module proxy into $LAB_CACHE/bin/<name>-<version>/.
# Used by .ci/run and by people: `sudo bash test/lab/install.sh`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export LAB_CACHE

say() { printf 'lab-install: %s\n' "$*"; }
die() { printf 'lab-install: ERROR: %s\n' "$*" >&2; exit 1; }

# ---- 1. Debian packages ---------------------------------------------------------------------
# command -> package providing it (one line printed per missing tool).
tools=(
  "ip:iproute2" "iptables:iptables" "conntrack:conntrack" "ping:iputils-ping" "curl:curl"
  "iperf3:iperf3" "dig:dnsutils" "jq:jq" "openssl:openssl" "chromium:chromium" "ps:procps"
  "fuser:psmisc" "tc:iproute2" "setpriv:util-linux" "systemd-analyze:systemd"
  # WireGuard interop peers for the data-plane tests (test/e2e/dataplane)
  "wireguard-go:wireguard-go" "wg:wireguard-tools"
  # A home router with UPnP/NAT-PMP/PCP for the port-mapping tests (test/e2e/magicsock/portmap):
  # miniupnpd-iptables (libiptc, legacy xtables) has all three; the plain `miniupnpd` package only
  # adds the init scripts, which the lab does not want (it runs the daemon in a namespace itself).
  "miniupnpd:miniupnpd-iptables" "iptables-legacy:iptables"
)
missing_pkgs=()
for t in "${tools[@]}"; do
  cmd=${t%%:*}; pkg=${t#*:}
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1; then
    say "missing tool '$cmd' (Debian package $pkg)"
    [[ " ${missing_pkgs[*]-} " == *" $pkg "* ]] || missing_pkgs+=("$pkg")
  fi
done
if ((${#missing_pkgs[@]})); then
  [[ $(id -u) -eq 0 ]] || die "packages missing (${missing_pkgs[*]}); re-run as root: sudo bash test/lab/install.sh"
  command -v apt-get >/dev/null || die "no apt-get: install ${missing_pkgs[*]} with your package manager"
  say "apt-get update (once) and install: ${missing_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
else
  say "apt packages: all present"
fi

# ---- 2. Go peers ----------------------------------------------------------------------------
command -v go >/dev/null || die "missing tool 'go' (Go >= 1.26.5 needed to build the lab peers; see https://go.dev/doc/install)"
gov=$(go env GOVERSION)   # e.g. go1.26.8
# tailscale v1.98.10's go.mod says `go 1.26.5`, headscale v0.29.2's `go 1.26.4` (lab.md 1.1).
if ! printf '%s\n%s\n' "go1.26.5" "$gov" | sort -C -V; then
  die "Go $gov is too old: need >= go1.26.5 (GOTOOLCHAIN=local, so it will not download one)"
fi

export GOMODCACHE=$LAB_CACHE/gomod GOCACHE=$LAB_CACHE/gobuild
export GOFLAGS="-trimpath -modcacherw" GOTOOLCHAIN=local CGO_ENABLED=0
TS_BIN=$LAB_CACHE/bin/tailscale-$TS_VER
HS_BIN=$LAB_CACHE/bin/headscale-$HS_VER
mkdir -p "$TS_BIN" "$HS_BIN" "$GOMODCACHE" "$GOCACHE" 2>/dev/null || die "cannot create $LAB_CACHE (run as root, or set LAB_CACHE to a writable dir)"

# have BINARY MODULE VERSION: the binary exists and its embedded build info names that module@version.
have() { go version -m "$1" 2>/dev/null | awk -v m="$2" -v v="$3" '$1=="mod" && $2==m && $3==v {ok=1} END{exit !ok}'; }

ts_ok=1
for b in tailscaled tailscale derper; do
  have "$TS_BIN/$b" tailscale.com "$TS_VER" || { say "missing $TS_BIN/$b (tailscale.com@$TS_VER)"; ts_ok=0; }
done
if ((ts_ok)); then
  say "tailscale $TS_VER: present in $TS_BIN"
else
  say "building tailscaled, tailscale, derper $TS_VER (cold: ~2.5 min on 2 cores)"
  t0=$SECONDS
  # Version stamps as tailscale's build_dist.sh sets them; without them the version reads 1.98.10-ERR-BuildInfo.
  GOBIN=$TS_BIN go install \
    -ldflags "-X tailscale.com/version.longStamp=${TS_VER#v} -X tailscale.com/version.shortStamp=${TS_VER#v}" \
    "tailscale.com/cmd/tailscaled@$TS_VER" "tailscale.com/cmd/tailscale@$TS_VER" "tailscale.com/cmd/derper@$TS_VER"
  say "tailscale $TS_VER built in $((SECONDS - t0))s"
fi

if have "$HS_BIN/headscale" github.com/juanfont/headscale "$HS_VER"; then
  say "headscale $HS_VER: present in $HS_BIN"
else
  say "missing $HS_BIN/headscale (github.com/juanfont/headscale@$HS_VER); building (cold: ~2 min on 2 cores)"
  t0=$SECONDS
  # `go install github.com/juanfont/headscale/cmd/headscale@v0.29.2` fails here: the proxy answers
  # 403 for that module's @v/list (needed for the deprecation check). Building from a throw-away
  # main module that requires the exact version needs no version list.
  src=$LAB_CACHE/src/headscale-$HS_VER
  mkdir -p "$src"
  if [[ ! -f $src/go.mod ]]; then
    printf 'module meshtray.lab/headscale-build\n\ngo 1.26.4\n\nrequire github.com/juanfont/headscale %s\n' "$HS_VER" >"$src/go.mod"
  fi
  (cd "$src" && go build -mod=mod -o "$HS_BIN/headscale" github.com/juanfont/headscale/cmd/headscale)
  have "$HS_BIN/headscale" github.com/juanfont/headscale "$HS_VER" || die "built headscale does not report $HS_VER"
  say "headscale $HS_VER built in $((SECONDS - t0))s"
fi
say "ok: tailscale $("$TS_BIN/tailscale" version | head -1), $("$HS_BIN/headscale" version 2>/dev/null | head -1)"
