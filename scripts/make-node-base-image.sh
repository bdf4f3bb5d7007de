#!/usr/bin/env bash
# Makes the Dockerfile's NODE_IMAGE (docker.io/library/node:20-bookworm-slim) in buildah's local
# storage without a registry: a Debian bookworm rootfs from Debian's packages (mmdebstrap) plus this
# machine's own Node.js 20 and npm. Where a registry is reachable the Dockerfile pulls the real
# image instead; nothing else changes. Idempotent: does nothing when the image exists.
set -euo pipefail
IMAGE="${1:-docker.io/library/node:20-bookworm-slim}"
if buildah inspect --type image "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE: present"
  exit 0
fi
node_bin="$(command -v node)"
npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
case "$(node --version)" in v20.*) ;; *) echo "needs Node.js 20 on this machine, found $(node --version)" >&2; exit 1 ;; esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# as Debian's slim images: no manual pages, documentation or translations
mmdebstrap --quiet --variant=minbase \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  bookworm "$work/rootfs.tar" http://deb.debian.org/debian
container="$(buildah from scratch)"
trap 'buildah rm "$container" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
buildah add --quiet "$container" "$work/rootfs.tar" /
buildah copy --quiet "$container" "$node_bin" /usr/local/bin/node
buildah copy --quiet "$container" "$(readlink -f "$npm_dir")" /usr/local/lib/node_modules/npm
buildah run --isolation chroot "$container" -- ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
buildah run --isolation chroot "$container" -- ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
buildah config --env NODE_VERSION="$(node --version | tr -d v)" --cmd '["node"]' "$container"
buildah commit --quiet --rm "$container" "$IMAGE" >/dev/null
trap 'rm -rf "$work"' EXIT
echo "base image $IMAGE: made from Debian bookworm and Node.js $(node --version)"
