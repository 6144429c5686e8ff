# The platform image: web (gunicorn) and RQ workers run from it with different commands.
#   docker build -t govmarket .
#   docker run -e DATABASE_URL=... -e REDIS_URL=... -e GOVMARKET_SECRET_KEY=... -p 8000:8000 govmarket
#   docker run ... govmarket govmarket db upgrade heads      (before starting new code)
#   docker run ... govmarket govmarket worker default billing
#   docker run ... govmarket govmarket worker sandbox      (sandbox hosts: root, --pid host, the Docker socket and
#       the same-path runs folder; docs/operations.md "Sandbox hosts", compose.yaml's sandbox-worker)
# BASE_IMAGE is any Debian bookworm image with python3 (3.11): python:3.11-slim-bookworm by default; on a machine
# without an image registry `scripts/build-image.sh --local-base` builds one from the sandbox runtime image and
# builds this file on it (tests/deploy/test_image.py does that). Where dockerd has no bridge network, as here,
# build with `--network host`.
# Everything Python lives in the virtualenv /opt/venv (Debian's own pip refuses to install: PEP 668).
# Layers: system packages, then the dependencies from the lock (requirements/platform.txt, hashes checked), then
# our own code with --no-deps, so a code change rebuilds only the last layer (seconds).
# docs/operations.md describes the whole production topology and the build.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
# PATH is spelled out: an imported rootfs (the local base) has no PATH of its own to extend.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOVMARKET_ENV=production GOVMARKET_QUEUE_MODE=rq GOVMARKET_INSTANCE_PATH=/var/lib/govmarket \
    FLASK_APP=marketplace.app:create_app \
    PORT=8000 WEB_CONCURRENCY=4
# bubblewrap: the sandbox backend; fonts-noto-cjk: the Chinese font of the PDF reports (billing/reports.py), laid out
# by WeasyPrint with Pango and HarfBuzz (libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0);
# postgresql-client: pg_dump/pg_restore for `govmarket backup` (15, as Debian bookworm ships: dumps servers up to 15).
# python3-venv only where the base lacks ensurepip (Debian's python3; python:3.11-slim has it).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bubblewrap fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 \
      libharfbuzz-subset0 ca-certificates postgresql-client \
      $(python3 -c 'import ensurepip' 2>/dev/null || echo python3-venv) \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/govmarket --create-home govmarket \
 && python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
 && python3 -m venv /opt/venv \
 && pip install -q --upgrade pip
WORKDIR /app
# Dependencies only, exactly as locked (versions and hashes): this layer changes when the lock does, not the code.
COPY requirements/platform.txt requirements/platform.txt
RUN pip install -q --require-hashes --no-deps -r requirements/platform.txt
# The code (.dockerignore leaves out tests, caches, .venv, instance), installed without touching the dependencies.
# Editable (compat): the platform finds migrations/ and examples/ next to its packages, under /app.
COPY . .
RUN pip install -q --no-deps --no-build-isolation --config-settings editable_mode=compat -e . -e ./suite -e ./sdk \
 && pip check \
 && chown -R govmarket /var/lib/govmarket
USER govmarket
EXPOSE 8000
# gunicorn listens on 0.0.0.0:$PORT with $WEB_CONCURRENCY worker processes (its own environment defaults).
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import os,sys,urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT']).status != 200)"
# --keep-alive 75: longer than the reverse proxy keeps an idle upstream connection (nginx: 60 s), so the proxy
# never reuses one gunicorn has just closed (gunicorn's default, 2 s, showed as connection resets in the load test).
CMD ["gunicorn", "--threads", "4", "--keep-alive", "75", "--access-logfile", "-", "marketplace.wsgi:app"]
