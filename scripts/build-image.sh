#!/usr/bin/env bash
# Builds the platform image from the repository's Dockerfile.
#
#   scripts/build-image.sh [-t TAG] [--local-base] [--base IMAGE] [-- DOCKER_BUILD_ARGS...]
#   scripts/build-image.sh --local-base-only       builds (once) and prints only the local base's tag, for the
#                                                  other images built on it (deploy/proxy, deploy/offline)
#
#   (default)     FROM python:3.11-slim-bookworm, pulled from Docker Hub as in any deployment
#   --base IMAGE  FROM another Debian bookworm image with python3 (3.11)
#   --local-base  without any image registry: FROM govmarket-build-base:<hash>, made here from the sandbox
#                 runtime image govmarket-runtime:<hash> (`govmarket sandbox build-runtime`, Debian bookworm with
#                 python3, built from Debian's mirror) plus python3-venv and ca-certificates. Needs Debian's
#                 mirror and PyPI, nothing else. The base trusts this host's CA bundle ($SSL_CERT_FILE or
#                 /etc/ssl/certs/ca-certificates.crt), so a TLS-intercepting proxy the host trusts works too.
#
# Builds run with `--network host` (this machine's dockerd has no bridge network); TAG defaults to govmarket:latest.
# The last line printed is the image's tag. tests/deploy/test_image.py builds and runs the image this way.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
tag=govmarket:latest
base=
local_base=0
base_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    -t|--tag) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --local-base) local_base=1; shift ;;
    --local-base-only) local_base=1; base_only=1; shift ;;
    --) shift; break ;;
    *) echo "usage: $0 [-t TAG] [--local-base | --base IMAGE] [-- DOCKER_BUILD_ARGS...]" >&2; exit 2 ;;
  esac
done
log() { printf '[build-image] %s\n' "$*" >&2; }

if [ "$local_base" = 1 ]; then
  # The sandbox runtime image: built once and cached (a no-op when it is there).
  govmarket=${GOVMARKET:-$here/.venv/bin/govmarket}
  [ -x "$govmarket" ] || govmarket=govmarket
  runtime=$("$govmarket" sandbox build-runtime | sed -n 's/^docker image //p')
  [ -n "$runtime" ] || { log "govmarket sandbox build-runtime named no docker image"; exit 1; }
  # The base trusts what this host trusts: its CA bundle goes in (a TLS-intercepting proxy's CA, if any, is how
  # the host itself reaches PyPI).
  ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
  [ -f "$ca_bundle" ] || { log "no CA bundle at $ca_bundle (set SSL_CERT_FILE)"; exit 1; }
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp "$ca_bundle" "$ctx/host-ca-bundle.crt"
  # The runtime carries the sandbox's own user at uid 10001 (sandbox/runtime.py); the platform image creates
  # its user `govmarket` there, so the build base drops it and is a plain Debian bookworm with python3.
  cat >"$ctx/Dockerfile" <<EOF
FROM $runtime
COPY host-ca-bundle.crt /usr/local/share/ca-certificates/host-ca-bundle.crt
RUN sed -i '/^govapp:/d' /etc/passwd /etc/group \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv ca-certificates \\
 && update-ca-certificates \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# pip's own certifi bundle would not know the host's CAs.
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
EOF
  # Tagged by the runtime and by what goes into the base, so a new runtime, recipe or CA bundle makes a new one.
  base=govmarket-build-base:${runtime#*:}-$(cat "$ctx/Dockerfile" "$ctx/host-ca-bundle.crt" | sha256sum | cut -c1-8)
  if docker image inspect "$base" >/dev/null 2>&1; then
    log "local base $base is there"
  else
    log "building the local base $base from $runtime and $ca_bundle"
    docker build --force-rm --network host --label "org.govmarket.runtime=$runtime" -t "$base" "$ctx" >&2
  fi
  if [ "$base_only" = 1 ]; then
    echo "$base"
    exit 0
  fi
fi

build_args=(--force-rm --network host -t "$tag")
[ -n "$base" ] && build_args+=(--build-arg "BASE_IMAGE=$base")
log "docker build ${build_args[*]} $* $here"
docker build "${build_args[@]}" "$@" "$here" >&2
echo "$tag"
