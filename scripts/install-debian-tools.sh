#!/usr/bin/env bash
# Fetches the independent clients the interoperability tests and benchmarks use as yardsticks: Debian trixie's
# cosign 2.5, oras 1.2, rekor-cli 1.3.9 and gitsign 0.13 (static Go binaries, libc >= 2.34). The machine's own apt
# configuration is left untouched: a private apt state directory, `apt-get download`, then `dpkg -x`.
# usage: scripts/install-debian-tools.sh [DIR]   (default $PROVENANT_TOOLS_DIR or /var/cache/provenant/debian-tools;
# cached once fetched). Prints the bin directory. test/support/debian-tools.ts looks in the same place.
set -eu
D=${1:-${PROVENANT_TOOLS_DIR:-/var/cache/provenant/debian-tools}}
have() { [ -x "$D/root/usr/bin/cosign" ] && [ -x "$D/root/usr/bin/oras" ] && [ -x "$D/root/usr/bin/rekor-cli" ] && [ -x "$D/root/usr/bin/gitsign" ]; }
if have; then echo "$D/root/usr/bin"; exit 0; fi
mkdir -p "$D/apt/lists/partial" "$D/apt/cache/archives/partial" "$D/debs"
# the sources file must end in .sources inside SourceParts
printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$D/apt/trixie.sources"
O=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$D/apt" -o Dir::State::Lists="$D/apt/lists" -o Dir::Cache="$D/apt/cache" -o Debug::NoLocking=1)
apt-get "${O[@]}" update -qq >/dev/null
(cd "$D/debs" && apt-get "${O[@]}" download cosign oras rekor gitsign >/dev/null)
for f in "$D"/debs/*.deb; do dpkg -x "$f" "$D/root"; done
have || { echo "could not fetch cosign, oras, rekor-cli and gitsign from Debian trixie" >&2; exit 1; }
echo "$D/root/usr/bin"
