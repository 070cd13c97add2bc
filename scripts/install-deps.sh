#!/usr/bin/env bash
# Installs every build and test dependency of backend-im from Debian 12 packages.
# Safe to run again; needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcurl4-openssl-dev libssl-dev zlib1g-dev libnghttp2-dev
  libwebsocketpp-dev libasio-dev
  libsqlite3-dev sqlite3
  libfmt-dev doctest-dev nlohmann-json3-dev libcli11-dev libsystemd-dev libdtl-dev
  python3 curl jq openssl
  clang libclang-rt-14-dev
  file systemd util-linux mount passwd dpkg-dev
  dbus-daemon dbus-bin  # a private session bus for the desktop notice tests
  libc-ares-dev  # DNS lookups of custom domains, against any server (BACKEND_IM_DNS_SERVER)
  knot knot-dnsutils  # a real DNS server on loopback for the custom-domain tests
  # The runtime of the apps the embedded platform runs (backend-im-mock --run-apps) and of
  # `backend-im dev` without a virtualenv: Debian's FastAPI stack.
  python3-fastapi python3-uvicorn python3-sqlalchemy python3-packaging
)
# Node.js and npm for the MCP interop test (tests/mcp-interop, the official MCP SDK): Debian's
# (Node 18, which the SDK supports) only when the machine has none. A Node.js from elsewhere
# stays untouched: NodeSource's nodejs package conflicts with Debian's npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
