# One image for the API, the worker and the sandbox; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app
# Dependencies in a layer of their own, rebuilt only when the lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY schemas/ schemas/
COPY service/ service/
COPY workers/ workers/
COPY sandbox/ sandbox/
COPY migrations/ migrations/
# The project itself is installed editable (uv's default): service/migrate.py finds the SQL
# files in /app/migrations next to the code.
RUN uv sync --frozen --no-dev

RUN useradd --system --uid 10001 --no-create-home comms
USER comms

EXPOSE 8000 8010
# The API; the worker runs `python -m workers`, the sandbox `python -m sandbox`, migrations
# `comms migrate`.
CMD ["granian", "--interface", "asgi", "--factory", "service.asgi:app", \
     "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
