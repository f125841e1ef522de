# syntax=docker/dockerfile:1
# exchange-bridge: `docker build -t exchange-bridge:0.1.0 .`, then see helm/exchange-bridge.
#
# Runs as the non-root user 10001:10001 and writes nothing outside /tmp, so it runs with a
# read-only root file system (the Helm chart mounts an emptyDir on /tmp). The configuration is
# read from /etc/exchange-bridge/config.yaml and credentials from files under
# /etc/exchange-bridge/secrets (the paths the chart mounts); /metrics, /healthz and /readyz are
# served on port 9464.

# The base image, pinned by version; pin it by digest as well in your build
# (python:3.11.14-slim-bookworm@sha256:...) for reproducible images.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY bridge ./bridge
# A virtual environment with the bridge and its runtime dependencies only (no test or sandbox
# extras); pip compiles the bytecode here, so nothing is written at run time.
RUN python -m venv /opt/exchange-bridge \
    && /opt/exchange-bridge/bin/pip install . \
    && /opt/exchange-bridge/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="exchange-bridge" \
      org.opencontainers.image.description="Exchange WebSocket feeds to Kafka as versioned Avro records" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 bridge \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin bridge \
    && mkdir -p /etc/exchange-bridge/secrets
COPY --from=build /opt/exchange-bridge /opt/exchange-bridge
ENV PATH=/opt/exchange-bridge/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
EXPOSE 9464
# No curl in slim images: Python's urllib. BRIDGE_METRICS__PORT if the port is overridden.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BRIDGE_METRICS__PORT', '9464'), timeout=4)"]
ENTRYPOINT ["bridge"]
CMD ["run", "--config", "/etc/exchange-bridge/config.yaml"]
