#!/usr/bin/env bash
# Installs the Debian packages the test suite uses (real services on loopback, no Docker):
# Redis, CNCF Distribution registry, htpasswd, SoftHSM2, skopeo, ykcs11, Chromium.
# kubectl is expected on the machine already (used by manifest and fake-API tests).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  redis-server docker-registry apache2-utils softhsm2 skopeo ykcs11 chromium ca-certificates >/dev/null
echo "system packages installed"

# Independent clients (cosign, oras, rekor-cli, gitsign) for the interoperability tests, without changing apt's sources.
"$(dirname "$0")/install-debian-tools.sh" >/dev/null
echo "independent clients installed"
