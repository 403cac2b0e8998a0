#!/usr/bin/env bash
# Install the system packages the test suite needs (containers, Slurm, headless browser).
#
# Idempotent: packages already present are skipped without touching apt, so a warm CI
# machine pays nothing. Quiet: apt output goes to a log, printed only on failure.
# Usage: ci/install-system-packages.sh [--dry-run]
set -euo pipefail

PACKAGES=(
    # container test: podman with runc, a locally built base image
    podman buildah runc uidmap debootstrap fuse-overlayfs slirp4netns
    # Slurm test: a single-node cluster with accounting
    slurm-wlm slurmdbd munge mariadb-server
    # report rendering test (headless browser) and its fonts
    chromium fonts-dejavu-core
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-system-packages: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi
echo "install-system-packages: installing ${missing[*]}"
if [[ "${1:-}" == "--dry-run" ]]; then
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
log=$(mktemp -t install-system-packages.XXXXXX.log)
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# Never start services from postinst scripts: the tests start the daemons they need by hand.
policy_created=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    policy_created=1
fi
cleanup() { if [[ $policy_created -eq 1 ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
if ! { $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq && \
       $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 50 "$log" >&2
    echo "install-system-packages: apt-get failed (full log: $log)" >&2
    exit 1
fi
echo "install-system-packages: done in $(( $(date +%s) - start )) s"
rm -f "$log"
