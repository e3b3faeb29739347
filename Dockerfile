# syntax=docker/dockerfile:1
# Build stage: install Tugboat and its dependencies into a virtualenv, byte-compiled here because
# the runtime root filesystem is read-only.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY prompts ./prompts
COPY tools ./tools
RUN python -m venv /opt/tugboat \
 && /opt/tugboat/bin/pip install . \
 && /opt/tugboat/bin/pip uninstall -y pip setuptools wheel

# Runtime stage: no compilers or build tools; git for the plain-git change host, libgomp for
# LightGBM (the forecaster's global model).
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends git=1:2.39.* libgomp1=12.2.* \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --home-dir /home/tugboat --create-home tugboat
COPY --from=build /opt/tugboat /opt/tugboat
ENV PATH=/opt/tugboat/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/home/tugboat
USER 10001:10001
WORKDIR /home/tugboat
EXPOSE 8080
ENTRYPOINT ["tugboat"]
# `tugboat serve`: Slack (HTTP or Socket Mode), the Alertmanager webhook, /healthz, /readyz, /metrics.
CMD ["serve"]
