#!/usr/bin/env bash
# Build the telemetry_pipeline container image with podman, from Debian packages only.
#
#   deploy/build-image.sh [TAG]        # default tag: localhost/telemetry-pipeline:<version>
#
# 1. The base image localhost/debian:bookworm-base is made once with debootstrap (minbase plus
#    python3, python3-venv, ca-certificates, libpq5, tini) and `podman import`; it is reused while it
#    exists (REBUILD_BASE=1 makes it again). Nothing is pulled from a container registry.
# 2. The build context is a clean copy of what the image needs (pyproject.toml, README.md,
#    telemetry_pipeline/, sql/, deploy/requirements.lock, dagster.yaml): no .venv, .data or tests.
# 3. `podman build --isolation chroot` runs deploy/Dockerfile (works where running containers
#    does not). The host's CA bundle (PIP_CERT, e.g. a TLS-intercepting egress proxy's) is passed
#    to pip in the build stage as a build secret; it never ends up in the image.
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), BASE_IMAGE, REBUILD_BASE.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml")
TAG=${1:-localhost/telemetry-pipeline:$VERSION}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian:bookworm-base}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=python3,python3-venv,ca-certificates,libpq5,tini

need() { command -v "$1" >/dev/null || { echo "build-image: $1 not found (apt-get install -y podman debootstrap)" >&2; exit 1; }; }
need podman

WORK=$(mktemp -d "${TMPDIR:-/tmp}/telemetry-image.XXXXXX")
# debootstrap mounts /proc and /sys inside the root it builds; never delete through a mount.
# (grep finds nothing when debootstrap has unmounted them itself: not an error under pipefail)
unmount_under() { findmnt -rn -o TARGET | { grep "^$1/" || true; } | sort -r | xargs -r -n1 umount -l; }
cleanup() { unmount_under "$WORK"; rm -rf --one-file-system "$WORK"; }
trap cleanup EXIT

if [[ "${REBUILD_BASE:-0}" == 1 ]] || ! podman image exists "$BASE_IMAGE"; then
    need debootstrap
    [[ $(id -u) == 0 ]] || { echo "build-image: debootstrap needs root to make $BASE_IMAGE" >&2; exit 1; }
    echo "build-image: making $BASE_IMAGE with debootstrap from $DEBIAN_MIRROR"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$WORK/rootfs" "$DEBIAN_MIRROR" \
        >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
    # What a registry base image also drops: package caches and lists, logs, machine identity.
    unmount_under "$WORK/rootfs"
    rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/* \
        "$WORK"/rootfs/var/log/* "$WORK"/rootfs/tmp/*
    : >"$WORK/rootfs/etc/machine-id"
    # deb.debian.org is where apt inside the image would look (the URL the debootstrap used may be a mirror)
    echo "deb http://deb.debian.org/debian bookworm main" >"$WORK/rootfs/etc/apt/sources.list"
    tar --numeric-owner -C "$WORK/rootfs" -c . \
        | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf --one-file-system "$WORK/rootfs"
fi

CTX="$WORK/context"
mkdir -p "$CTX/deploy"
cp -r "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/dagster.yaml" "$ROOT/telemetry_pipeline" "$ROOT/sql" "$CTX/"
cp "$ROOT/deploy/requirements.lock" "$CTX/deploy/"
find "$CTX" -name __pycache__ -prune -exec rm -rf {} +

CA=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
SECRET=()
[[ -s "$CA" ]] && SECRET=(--secret "id=pip_ca,src=$CA")

PREVIOUS=$(podman image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)
echo "build-image: building $TAG from $BASE_IMAGE"
podman build --isolation chroot --pull=never --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    "${SECRET[@]}" -f "$ROOT/deploy/Dockerfile" -t "$TAG" "$CTX"
# The image the tag pointed at before is now untagged: remove it (unless a container uses it).
CURRENT=$(podman image inspect --format '{{.Id}}' "$TAG")
if [[ -n "$PREVIOUS" && "$PREVIOUS" != "$CURRENT" ]]; then podman rmi "$PREVIOUS" >/dev/null 2>&1 || true; fi
podman image inspect --format 'build-image: {{.Id}} {{.Size}} bytes' "$TAG"
