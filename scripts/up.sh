#!/usr/bin/env bash
# The one command to install and start the platform on a fresh Debian machine
# with PostgreSQL and Redis installed (`npm run up`): installs the npm
# dependencies, starts Postgres and Redis if they are down, migrates, then runs
# the projector, the worker and the API until Ctrl-C (or a kill of this script) stops them.
# Configuration comes from the environment, as for `npm start` (see README).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
die() { printf 'up: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
wait_until() { # <what> <command...>: up to 30 s
  local what=$1; shift
  for _ in $(seq 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what did not come up within 30 s"
}

# npm writes node_modules/.package-lock.json on every install: older than the lock means outdated.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing dependencies (npm ci)"
  npm ci
fi

# Postgres and Redis are started here only where they are meant to run here: on this machine (their URLs
# unset, or naming localhost or a socket); a remote one is the operator's to run.
on_this_machine() { # <url or empty>
  [ -z "$1" ] && return 0
  local host
  host=$(node -e 'try { process.stdout.write(new URL(process.argv[1]).hostname) } catch {}' "$1")
  [[ -z $host || $host == localhost || $host == 127.0.0.1 || $host == '[::1]' ]]
}

if on_this_machine "${DATABASE_URL:-}" && ! pg_isready -h 127.0.0.1 -q; then
  command -v pg_ctlcluster >/dev/null || die "PostgreSQL is not installed (apt-get install postgresql)"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_until PostgreSQL pg_isready -h 127.0.0.1 -q
fi

if on_this_machine "${REDIS_URL:-}" && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  command -v redis-server >/dev/null || die "Redis is not installed (apt-get install redis-server)"
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_until Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

# the worker's scrapers drive Debian's chromium (never a downloaded browser)
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  say "installing chromium (apt-get, no recommends)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
    || die "could not install chromium; install it, or set CHROMIUM_PATH to a Chromium binary"
fi

say "migrating the database"
node --import tsx src/main/migrate.ts

# Both processes are our direct children (node, not npm or the tsx CLI), so the
# signals sent below reach them; each finishes its in-flight work on SIGTERM.
say "starting the projector, the worker and the API (Ctrl-C stops them)"
node --import tsx src/main/projector.ts & projector=$!
node --import tsx src/main/worker.ts & worker=$!
node --import tsx src/main/api.ts & api=$!

stop() {
  trap - INT TERM EXIT
  kill -TERM "$api" "$worker" "$projector" 2>/dev/null || true
  wait "$api" "$worker" "$projector" 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

# Whichever exits first (a crash, a port in use) takes the others down with it.
status=0
wait -n "$api" "$worker" "$projector" || status=$?
say "a process exited with status $status; stopping the others"
exit "$status"
