# syntax=docker/dockerfile:1
# newsspider: `docker build -t newsspider .` then `docker run --rm newsspider crawl ofweek`
# (MONGO_URI=… for a real MongoDB; unset, the embedded store keeps its data in /data).
# See docker-compose.yml for MongoDB, the scheduler and the Redis scale-out.

# --- builder: wheels of newsspider and every locked dependency ---------------
# Base images are pinned by exact version tag (CI's Python is 3.11.7 too); there is
# no registry access where this was written, so no digest: add `@sha256:…` when you
# build, for byte-for-byte rebuilds.
FROM python:3.11.7-slim-bookworm AS builder
# Compilers only here, for any dependency without a binary wheel; the runtime
# stage installs the finished wheels and never sees gcc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# requirements.lock pins every runtime dependency with its hashes (`make lock`).
COPY requirements.lock ./
RUN pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements.lock
COPY pyproject.toml README.md LICENSE scrapy.cfg ./
COPY newsspider ./newsspider
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- runtime -------------------------------------------------------------------
FROM python:3.11.7-slim-bookworm AS runtime
# Debian's Chromium for `-a render=js` (scrapy-playwright drives it; no browser download).
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
# Bind-mounted from the builder, so the wheels never become a layer of this image:
# exactly the locked set (hash-checked when the builder fetched it) and newsspider.
RUN --mount=type=bind,from=builder,source=/wheels,target=/tmp/wheels \
    pip install --no-cache-dir --no-index --no-deps /tmp/wheels/*.whl \
 && pip check
RUN useradd --create-home --uid 10001 --user-group newsspider \
 && mkdir -p /data \
 && chown newsspider:newsspider /data
ENV NEWSSPIDER_DATA_DIR=/data \
    NEWSSPIDER_CHROMIUM=/usr/bin/chromium \
    SCRAPY_SETTINGS_MODULE=newsspider.settings \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
VOLUME ["/data"]
WORKDIR /home/newsspider
USER newsspider
# Healthy while the scheduler's loop beats (newsspider schedule); a one-shot
# crawl container has no heartbeat file and counts as healthy while it runs.
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["newsspider", "schedule", "--health"]
# Scrapy and the scheduler both stop gracefully on SIGTERM.
STOPSIGNAL SIGTERM
ENTRYPOINT ["newsspider"]
CMD ["--help"]
