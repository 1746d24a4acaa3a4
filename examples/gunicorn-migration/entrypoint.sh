#!/bin/bash
# web: production server; web-local: development server; anything else: run it.
if [ "$1" == "web" ]; then
  exec kiln --error-logfile - -c /app/gunicorn_config.py app:application
elif [ "$1" == "web-local" ]; then
  exec flask --app app run --host 0.0.0.0 --port "$PORT"
else
  echo "Running custom command"
  exec "$@"
fi
