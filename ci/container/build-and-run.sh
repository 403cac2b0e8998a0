#!/usr/bin/env bash
# Build the bids-energy container with podman, offline, and run it on a BIDS dataset.
#
# No registry is reachable on CI, so the base image is made locally with debootstrap and
# `podman import`; the project's image is then built with the SAME
# Dockerfile users build, naming that base through --build-arg BASE_IMAGE and installing
# bids-energy from a wheelhouse built on the host (--build-arg WHEELHOUSE).
#
# Usage:
#   ci/container/build-and-run.sh base                 # base image (cached rootfs tarball)
#   ci/container/build-and-run.sh image                # base + project image
#   ci/container/build-and-run.sh run DS OUT [ARGS...] # run the image: DS read-only at /data,
#                                                      # OUT at /out, ARGS after "/data /out"
#   ci/container/build-and-run.sh all DS OUT [ARGS...] # all of the above
# Environment:
#   BIDS_ENERGY_CACHE   cache dir (default ~/.cache/bids-energy): rootfs tarball, wheelhouse
#   BIDS_ENERGY_IMAGE   tag of the project image (default localhost/bids-energy:ci)
#   BIDS_ENERGY_BASE    tag of the local base image (default localhost/bids-energy-base:bookworm)
#   DEBIAN_MIRROR       mirror for debootstrap (default: first deb.debian.org-like URI in apt sources)
#   PODMAN_RUN_ARGS     extra arguments for `podman run` (e.g. "--user 0")
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${BIDS_ENERGY_CACHE:-$HOME/.cache/bids-energy}
IMAGE=${BIDS_ENERGY_IMAGE:-localhost/bids-energy:ci}
BASE=${BIDS_ENERGY_BASE:-localhost/bids-energy-base:bookworm}
SUITE=bookworm
ROOTFS_TAR="$CACHE/rootfs-$SUITE-python3.tar"
WHEELHOUSE_REL=ci/container/wheelhouse
mkdir -p "$CACHE"

log() { printf '[build-and-run %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# podman settings that work on hybrid-cgroup hosts: runc (crun fails there) and explicit
# ulimits, set in a containers.conf of our own so the host's configuration is left alone.
setup_podman() {
    local conf="$CACHE/containers.conf"
    cat >"$conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
events_logger = "file"
cgroup_manager = "cgroupfs"
CONF
    export CONTAINERS_CONF="$conf"
}

# The cgroup this process lives in, so containers stay inside the caller's limits.
own_cgroup() {
    local v2 v1
    v1=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)
    v2=$(awk -F: '$1 == "0" {print $3; exit}' /proc/self/cgroup)
    if [[ -n "$v1" && "$v1" != "/" ]]; then echo "$v1"; elif [[ -n "$v2" && "$v2" != "/" ]]; then echo "$v2"; fi
}

build_cgroup() {
    local parent=${CGROUP_PARENT:-$(own_cgroup)}
    echo "${parent%/}/bids-energy-build"
}

debian_mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
    local uri
    # deb822 "URIs:" lines and one-line "deb URI suite" entries, comments skipped.
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | sed -nE 's/^URIs:[[:space:]]*(\S+).*/\1/p; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(\S+).*/\2/p' \
          | grep -E '/debian/?$' | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {
    if podman image exists "$BASE"; then
        log "base image $BASE present"
        return
    fi
    if [[ ! -s "$ROOTFS_TAR" ]]; then
        command -v debootstrap >/dev/null || { log "debootstrap missing (ci/install-system-packages.sh)"; exit 69; }
        local rootfs mirror
        rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
        mirror=$(debian_mirror)
        log "debootstrap $SUITE from $mirror"
        debootstrap --variant=minbase --include=python3,python3-venv,python3-pip \
            "$SUITE" "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
            || { tail -n 30 "$CACHE/debootstrap.log" >&2; rm -rf "$rootfs"; exit 1; }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$ROOTFS_TAR.tmp" .
        mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
        rm -rf "$rootfs"
    fi
    log "podman import $ROOTFS_TAR -> $BASE"
    podman import --quiet --change 'CMD ["/bin/bash"]' "$ROOTFS_TAR" "$BASE" >/dev/null
}

# Wheels for bids-energy and every dependency, built on the host: host python and bookworm's
# python3 are both 3.11, so the cp311 manylinux wheels fit the image. Dependency wheels are
# cached; the project's own wheel is rebuilt every time.
build_wheelhouse() {
    local wh="$REPO/$WHEELHOUSE_REL" depcache="$CACHE/wheels"
    mkdir -p "$wh" "$depcache"
    rm -f "$wh"/bids_energy-*.whl
    log "pip wheel bids-energy (+ deps, cached in $depcache)"
    # Offline from the cache first (fast, no index round trips); the index only when a
    # dependency is missing or changed.
    # The image is built for PIPELINE=demo (the Dockerfile's default), which installs the
    # [demo] extra (antspyx, nilearn): their wheels must be in the wheelhouse too.
    python3 -m pip wheel --quiet --disable-pip-version-check --no-index --find-links "$depcache" \
        -w "$depcache" "${REPO}[demo]" >"$CACHE/pip-wheel.log" 2>&1 \
    || python3 -m pip wheel --quiet --disable-pip-version-check --find-links "$depcache" \
        -w "$depcache" "${REPO}[demo]" >"$CACHE/pip-wheel.log" 2>&1 \
    || { tail -n 30 "$CACHE/pip-wheel.log" >&2; exit 1; }
    # Only the wheels this build needs go into the build context.
    python3 - "$depcache" "$wh" <<'PY'
import pathlib, shutil, sys
src, dst = map(pathlib.Path, sys.argv[1:])
for whl in src.glob("*.whl"):
    target = dst / whl.name
    if whl.name.startswith("bids_energy-") or not target.exists():
        shutil.copy2(whl, target)
PY
    mv "$depcache"/bids_energy-*.whl "$wh"/ 2>/dev/null || true
}

build_image() {
    build_base
    build_wheelhouse
    local old_id
    old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
    log "podman build $IMAGE (BASE_IMAGE=$BASE)"
    # --format docker: OCI image config has no SHELL. Build steps run in a child of our cgroup.
    podman build --quiet --format docker --pull=never --cgroup-parent "$(build_cgroup)" \
        --build-arg BASE_IMAGE="$BASE" --build-arg WHEELHOUSE="$WHEELHOUSE_REL" \
        --build-arg IMAGE_NAME="$IMAGE" \
        -f "$REPO/Dockerfile" -t "$IMAGE" "$REPO" >"$CACHE/podman-build.log" 2>&1 \
        || { tail -n 40 "$CACHE/podman-build.log" >&2; exit 1; }
    # Drop the previous build of this tag (only ours), so rebuilds do not pile up.
    if [[ -n "$old_id" && "$old_id" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]]; then
        podman rmi "$old_id" >/dev/null 2>&1 || true
    fi
}

run_image() {
    local ds out
    ds=$(realpath "$1"); out=$(realpath "$2"); shift 2
    local parent
    parent=${CGROUP_PARENT:-$(own_cgroup)}
    local args=(--rm --pull=never --network none -v "$ds:/data:ro" -v "$out:/out")
    [[ -n "$parent" ]] && args+=(--cgroup-parent "$parent")
    # Measured energy where the host has it (README "Energy inside containers").
    [[ -d /sys/class/powercap ]] && args+=(-v /sys/class/powercap:/sys/class/powercap:ro)
    # shellcheck disable=SC2206
    [[ -n "${PODMAN_RUN_ARGS:-}" ]] && args+=($PODMAN_RUN_ARGS)
    log "podman run ${args[*]} $IMAGE /data /out $*"
    podman run "${args[@]}" "$IMAGE" /data /out "$@"
}

main() {
    command -v podman >/dev/null || { log "podman missing (ci/install-system-packages.sh)"; exit 69; }
    setup_podman
    local cmd=${1:-all}
    shift || true
    case "$cmd" in
        base) build_base ;;
        image) build_image ;;
        run) run_image "$@" ;;
        all) build_image; run_image "$@" ;;
        *) echo "usage: $0 base|image|run DS OUT [ARGS]|all DS OUT [ARGS]" >&2; exit 64 ;;
    esac
}

# One line, parsed whole before it runs: editing this file during a build cannot derail it.
main "$@"; exit $?
