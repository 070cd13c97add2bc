#!/usr/bin/env bash
# Builds the Debian package, installs it with dpkg, runs the installed programs (a full
# generate -> deploy --watch against the installed mock, the agent under a notify listener, and
# the installed unit under a real systemd --user manager),
# checks the installed unit, then removes the package. Needs root (CI runs as root).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"

cd "$build"
rm -f backend-im_*.deb
cpack -G DEB > cpack.log 2>&1 || { cat cpack.log; exit 1; }
debs=(backend-im_*.deb)
[ ${#debs[@]} -eq 1 ] || { echo "package-test: expected one .deb, got: ${debs[*]}"; exit 1; }
deb="${debs[0]}"
version="$(dpkg-deb -f "$deb" Version)"
arch="$(dpkg-deb -f "$deb" Architecture)"
[ "$deb" = "backend-im_${version}_${arch}.deb" ] || { echo "package-test: bad name $deb"; exit 1; }
[ "$(dpkg-deb -f "$deb" Package)" = backend-im ] || { echo "package-test: bad package name"; exit 1; }
depends="$(dpkg-deb -f "$deb" Depends)"
echo "package-test: $deb depends on: $depends"
# gRPC and protobuf are not among them when their static archives were linked in
# (cmake/StaticGrpc.cmake), nor fmt, which is header-only; the installed programs are run below
# either way.
for lib in libcurl libsqlite3 libsystemd libssl libc6; do
  echo "$depends" | grep -q "$lib" || { echo "package-test: Depends lacks $lib"; exit 1; }
done
contents="$(dpkg-deb -c "$deb")"
for f in ./usr/bin/backend-im ./usr/bin/backend-imd ./usr/bin/backend-im-mock \
         ./usr/lib/systemd/user/backend-imd.service \
         ./usr/share/man/man1/backend-im.1.gz ./usr/share/man/man1/backend-imd.1.gz \
         ./usr/share/bash-completion/completions/backend-im \
         ./usr/share/zsh/vendor-completions/_backend-im \
         ./usr/share/fish/vendor_completions.d/backend-im.fish; do
  echo "$contents" | grep -q " $f\$" || { echo "package-test: $f missing from the package"; exit 1; }
done

cleanup() { dpkg -r backend-im > /dev/null 2>&1 || true; }
trap cleanup EXIT
dpkg -i "$deb"
[ "$(/usr/bin/backend-im version --json | jq -r .version)" = "$version" ]
[ "$(/usr/bin/backend-imd --version)" = "backend-imd $version" ]

# The installed programs through the same integration tests that run from the build tree.
export BACKEND_IM_TEST_BIN_DIR=/usr/bin
"$build/tests/agent_integration_tests" \
  -tc="generate writes a project that deploy --watch takes to its URL,under a notify listener*,a deployment the platform fails*"
BACKEND_IMD=/usr/bin/backend-imd "$root/scripts/check-unit.sh" /usr/lib/systemd/user/backend-imd.service
"$root/tests/systemd/user-manager-test.sh"  # the installed unit under a real systemd --user

dpkg -r backend-im
trap - EXIT
for f in /usr/bin/backend-im /usr/bin/backend-imd /usr/lib/systemd/user/backend-imd.service; do
  [ ! -e "$f" ] || { echo "package-test: $f still there after dpkg -r"; exit 1; }
done
echo "package-test: 1 passed, 0 failed"
