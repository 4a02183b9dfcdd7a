#!/usr/bin/env bash
# Smoke-test the built image without running a container (which these machines cannot):
# mount a container's file system with podman and chroot into it as the image's user (10001).
#
#   deploy/smoke-test-image.sh [IMAGE]     # default: localhost/telemetry-pipeline:<version>
#
# Checks: the image's configured user, entrypoint and command; the code location loads
# (`dagster definitions validate -m telemetry_pipeline.definitions`); the CLI answers --help;
# sql/ is where the migrations look for it; the app tree is not writable by the runtime user.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml")
IMAGE=${1:-localhost/telemetry-pipeline:$VERSION}
[[ $(id -u) == 0 ]] || { echo "smoke-test-image: podman mount + chroot need root" >&2; exit 1; }

fail() { echo "smoke-test-image: FAILED: $*" >&2; exit 1; }

config=$(podman image inspect --format '{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}' "$IMAGE")
echo "image config: $config"
[[ $config == 10001:10001\|* ]] || fail "image user is not 10001:10001"
[[ $config == *'["/usr/bin/tini","--"]'* ]] || fail "entrypoint is not tini"
[[ $config == *'"code-server","start"'*'"telemetry_pipeline.definitions"'* ]] || fail "CMD is not the code server"

CTR=$(podman create --name "telemetry-smoke-$$" "$IMAGE")
MNT=$(podman mount "$CTR")
cleanup() { podman umount "$CTR" >/dev/null || true; podman rm -f "$CTR" >/dev/null || true; }
trap cleanup EXIT

# The image's environment (Config.Env), nothing of the host's.
mapfile -t IMAGE_ENV < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
in_image() { chroot --userspec=10001:10001 "$MNT" /usr/bin/env -i "${IMAGE_ENV[@]}" HOME=/home/telemetry "$@"; }

echo "--- id"; in_image /usr/bin/id
echo "--- dagster definitions validate"
# The image's dagster.yaml wants DAGSTER_PG_URL (a database); validating the code location needs
# no instance, so it runs on an empty DAGSTER_HOME (Dagster's ephemeral instance).
in_image /bin/sh -c 'export DAGSTER_HOME=$(mktemp -d) && cd /home/telemetry &&
    /app/.venv/bin/dagster definitions validate -m telemetry_pipeline.definitions' \
    || fail "the code location does not load"
echo "--- telemetry-pipeline --help"
in_image /app/.venv/bin/telemetry-pipeline --help | head -20 || fail "the CLI does not start"
echo "--- migrations found"
in_image /app/.venv/bin/python -c \
    'from telemetry_pipeline.core.warehouse.migrate import discover; print(len(discover()), "files in sql/")' \
    || fail "sql/ not found by the migration runner"
if in_image /bin/sh -c 'touch /app/telemetry_pipeline/x' 2>/dev/null; then fail "/app is writable by the runtime user"; fi
echo "--- /app is read-only for uid 10001"
podman image inspect --format 'image size: {{.Size}} bytes' "$IMAGE"
echo "smoke-test-image: OK"
