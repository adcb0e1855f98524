# Three stages:
#   builder   installs the locked dependencies (no dev group) and the project into /app/.venv
#             with uv; nothing of it but the virtualenv reaches the others.
#   sandbox   the provider simulator (`docker build --target sandbox`); docker-compose.yml
#             builds it for its `sandbox` service.
#   runtime   the service: the API (the default command), the worker (`python -m workers`),
#             migrations and the admin CLI (`comms …`). The last stage, so `docker build .`
#             builds it. It holds neither uv, nor the development servers (embedded PostgreSQL
#             and Redis are in the dev dependency group), nor the sandbox.
# Both final stages run as an unprivileged user and carry a HEALTHCHECK.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
# Dependencies in a layer of their own, rebuilt only when the lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
# The project itself, installed editable (uv's default): a .pth file points at /app, where the
# final stages put the code (service/migrate.py finds the SQL files in /app/migrations).
COPY README.md LICENSE ./
COPY schemas/ schemas/
COPY service/ service/
COPY workers/ workers/
COPY sandbox/ sandbox/
RUN uv sync --frozen --no-dev

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH
RUN useradd --system --uid 10001 --no-create-home comms
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv

FROM base AS sandbox
COPY sandbox/ sandbox/
RUN python -m compileall -q sandbox
USER comms
ENV SANDBOX_HOST=0.0.0.0 \
    SANDBOX_PORT=8010
EXPOSE 8010
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=12 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8010/sandbox/health', timeout=4)"]
CMD ["python", "-m", "sandbox"]

FROM base AS runtime
COPY schemas/ schemas/
COPY service/ service/
COPY workers/ workers/
COPY migrations/ migrations/
# `comms settings` explains each setting from it.
COPY .env.example ./
# Compiled once here: the unprivileged user cannot write __pycache__ under /app.
RUN python -m compileall -q schemas service workers
USER comms
# Secrets must be real here: the API and the worker refuse to start without them (README:
# "Running it in production").
ENV ENVIRONMENT=production
EXPOSE 8000
# The API's readiness (PostgreSQL and Redis answer). A worker's container overrides it
# (docker-compose.yml), and one-shot commands (comms migrate) disable it.
HEALTHCHECK --interval=5s --timeout=5s --start-period=20s --retries=12 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# Granian with two server processes in Prometheus's multiprocess mode: `comms serve` empties
# PROMETHEUS_MULTIPROC_DIR (or makes a private directory when it is unset) before the processes
# start, so every scrape counts every process and no earlier run's counts (service/serve.py).
CMD ["comms", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
