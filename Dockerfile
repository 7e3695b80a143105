# syntax=docker/dockerfile:1
#
# Production image. One image, three roles (see docker-entrypoint.sh):
#   docker run IMAGE web       gunicorn on :8000 (GUNICORN_WORKERS, GUNICORN_THREADS)
#   docker run IMAGE worker    RQ worker (portal worker)
#   docker run IMAGE migrate   portal db upgrade
# Configuration comes from the environment (DATABASE_URL, REDIS_URL, SECRET_KEY, PORTAL_ENCRYPTION_KEYS,
# PORTAL_BASE_DOMAIN, SMTP_*, ...); nothing is embedded in production.
#
# The code keeps the repository layout under /app (/app/portal, /app/templates, /app/static,
# /app/migrations, /app/wsgi.py): the app finds templates/static/migrations next to the package.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: a virtualenv with every dependency, the project installed in editable mode at /app ----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
# Dependencies first (cached until pyproject.toml changes): an empty package stands in for portal/,
# whose real files are copied in the runtime stage at the same path the editable install points to.
COPY pyproject.toml ./
RUN mkdir portal && touch portal/__init__.py \
    && pip install -e . \
    && rm -rf portal

# ---- runtime ----
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORTAL_INSTANCE_DIR=/app/instance \
    PORT=8000

RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /app --shell /usr/sbin/nologin portal

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
COPY pyproject.toml wsgi.py ./
COPY portal/ portal/
COPY templates/ templates/
COPY static/ static/
COPY migrations/ migrations/
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

RUN if find portal/translations -name '*.po' 2>/dev/null | grep -q .; then \
        pybabel -q compile -d portal/translations; \
    fi \
    && python -m compileall -q portal \
    && chmod 0755 /usr/local/bin/docker-entrypoint.sh \
    && mkdir -p /app/instance \
    && chown portal:portal /app/instance

USER portal
EXPOSE 8000

ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["web"]
