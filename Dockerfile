# The platform image: web (gunicorn) and RQ workers run from it with different commands.
#   docker build -t govmarket .
#   docker run -e DATABASE_URL=... -e REDIS_URL=... -e GOVMARKET_SECRET_KEY=... -p 8000:8000 govmarket
#   docker run ... govmarket govmarket worker sandbox      (sandbox hosts also mount /var/run/docker.sock)
# docs/operations.md describes the whole production topology.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    GOVMARKET_ENV=production GOVMARKET_QUEUE_MODE=rq GOVMARKET_INSTANCE_PATH=/var/lib/govmarket \
    FLASK_APP=marketplace.app:create_app
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/govmarket --create-home govmarket
WORKDIR /app
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY sdk/pyproject.toml sdk/pyproject.toml
COPY sdk/govapp sdk/govapp
COPY . .
RUN pip install --no-cache-dir --config-settings editable_mode=compat -e . -e './sdk[cli]' \
 && chown -R govmarket /var/lib/govmarket
USER govmarket
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", "--access-logfile", "-", "marketplace.wsgi:app"]
