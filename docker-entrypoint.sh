#!/bin/sh
# Container roles: web | worker | migrate | <any command>
set -eu

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
    web)
        exec gunicorn wsgi:app \
            --bind "0.0.0.0:${PORT:-8000}" \
            --workers "${GUNICORN_WORKERS:-2}" \
            --threads "${GUNICORN_THREADS:-4}" \
            --timeout "${GUNICORN_TIMEOUT:-60}" \
            --access-logfile - \
            --error-logfile - \
            "$@"
        ;;
    worker)
        exec portal worker "$@"
        ;;
    migrate)
        exec portal db upgrade "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
