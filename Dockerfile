# syntax=docker/dockerfile:1
# todo-backend image. Build from the repository root:
#   docker build -t todo-backend:latest .

# --- builder: the virtualenv and the collected static files -------------------
FROM python:3.13-alpine AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app
COPY requirements.txt .
# Every dependency ships a musllinux wheel for 3.13 but http-ece, one module
# of pure Python published as source only: no compiler, in this stage or the
# final one. --only-binary makes any other missing wheel fail the build.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --only-binary=:all: --no-binary=http-ece -r requirements.txt \
    && /opt/venv/bin/pip uninstall --yes --quiet pip

COPY . .
# collectstatic loads the settings, which need these variables; the values
# are placeholders for this one command and are not kept in the image.
RUN DATABASE_URL=postgresql://build@localhost/build \
    BETTER_AUTH_SECRET=build-time-placeholder-not-a-secret-000 \
    FRONTEND_URL=http://localhost \
    LLM_PROVIDER=LOCAL \
    /opt/venv/bin/python manage.py collectstatic --noinput --verbosity 0

# --- final: the virtualenv, the app, a non-root user --------------------------
FROM python:3.13-alpine

# FORWARDED_ALLOW_IPS: no proxy is trusted for X-Forwarded-For unless the
# deployment says so (uvicorn alone would trust 127.0.0.1).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    FORWARDED_ALLOW_IPS=""

# No installer in the running image: nothing can be added to it at run time.
RUN python -m pip uninstall --yes --quiet pip \
    && addgroup -S -g 1001 appuser \
    && adduser -S -D -H -u 1001 -G appuser -h /app -s /sbin/nologin appuser

WORKDIR /app
# Owned by root, readable by all: the app user cannot change its own code.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app

USER 1001:1001
EXPOSE 8001

# The contract's health check, verbatim (its shell-form CMD is why DL3025 is off here).
# hadolint ignore=DL3025
HEALTHCHECK --interval=30s --timeout=3s --start-period=40s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8001/health')"

# Exec form: python is PID 1 and receives SIGTERM itself.
CMD ["python", "-m", "todo_project.serve"]
