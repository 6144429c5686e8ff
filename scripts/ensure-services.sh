#!/usr/bin/env bash
# Installs and starts what the platform and its tests need on a Debian machine, when missing:
# Debian packages (bubblewrap, docker.io, docker-compose, debootstrap, chromium, npm, CJK fonts, Pango), PostgreSQL,
# Redis, dockerd.
# Idempotent: running it again on a ready machine takes a second.
set -euo pipefail

log() { printf '[ensure-services] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs=()
command -v bwrap >/dev/null || need_pkgs+=(bubblewrap)
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
# Compose 1.29 (Debian's; it reads the compose spec): tests/deploy/test_compose_stack.py brings compose.yaml up.
command -v docker-compose >/dev/null || need_pkgs+=(docker-compose)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
command -v chromium >/dev/null || need_pkgs+=(chromium)
command -v npm >/dev/null || need_pkgs+=(npm)  # installs axe-core (package-lock.json) for the browser journeys
[ -d /usr/share/fonts/opentype/noto ] || need_pkgs+=(fonts-noto-cjk)
# Pango and HarfBuzz: WeasyPrint lays out the finance report PDF with them (billing/reports.py).
/sbin/ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || need_pkgs+=(libpango-1.0-0 libpangoft2-1.0-0)
/sbin/ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so.0' || need_pkgs+=(libharfbuzz-subset0)
command -v pg_ctlcluster >/dev/null || need_pkgs+=(postgresql)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v pdftoppm >/dev/null || need_pkgs+=(poppler-utils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432; then
  log "starting PostgreSQL"
  ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 30); do port_open 5432 && break; sleep 1; done
fi
if ! port_open 6379; then
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 30); do port_open 6379 && break; sleep 1; done
fi
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  as_root mkdir -p /var/log
  (as_root setsid dockerd --iptables=false --bridge=none >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/dockerd.log"; tail -n 20 /var/log/dockerd.log >&2; exit 1; }
fi
log "ready: PostgreSQL, Redis, dockerd, docker-compose, bubblewrap, chromium"
