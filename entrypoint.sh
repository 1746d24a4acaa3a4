#!/bin/sh
# kiln's entrypoint: how the image (and a checkout) runs kiln.
#
#   entrypoint.sh web        production: config/kiln.toml; PORT must be set
#   entrypoint.sh web-local  development: config/kiln.local.toml (one worker, debug logs in
#                            colour, reload when the configuration changes; static files are
#                            always served fresh)
#   entrypoint.sh CMD ...    anything else runs as a one-off command in the same environment
#   entrypoint.sh --help     this text
#
# Tuning comes from the environment: PORT, WEB_CONCURRENCY, HTTP_SERVE_TIMEOUT_SECONDS and
# every KILN_<SETTING> (see kiln --help). APP_SERVER names the server binary when it is not
# bin/server next to this script, build/kiln in a checkout, or kiln on the PATH.
#
# Every branch ends in exec, so that the server (or the command) is the process that receives
# the container's SIGTERM and drains its requests; a shell left in between would swallow it.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

usage() {
  # The comment at the top of this file, without its "# ".
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

server() {
  if [ -n "${APP_SERVER:-}" ]; then
    echo "$APP_SERVER"
  elif [ -x "$here/bin/server" ]; then
    echo "$here/bin/server"
  elif [ -x "$here/build/kiln" ]; then
    echo "$here/build/kiln"
  else
    echo kiln
  fi
}

if [ $# -eq 0 ]; then
  usage >&2
  exit 64
fi

case "$1" in
  web)
    shift
    if [ -z "${PORT:-}" ]; then
      echo "entrypoint.sh: PORT must be set to the port to listen on, e.g. PORT=8000" >&2
      exit 64
    fi
    exec "$(server)" -c "$here/config/kiln.toml" "$@"
    ;;
  web-local)
    shift
    exec "$(server)" -c "$here/config/kiln.local.toml" "$@"
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    echo "Running custom command: $*" >&2
    exec "$@"
    ;;
esac
