#!/usr/bin/env bash
# Installs and starts what the test suite talks to, when missing: Debian's chromium (+ driver),
# a PostgreSQL server, Mosquitto, Redis and the openssl command. Installing needs root (apt-get); otherwise it says what to do.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
APT_UPDATED=0

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: $1 is missing and installing it needs root: $2" >&2
    exit 1
  fi
}

apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# 1. Chromium for the browser tests (Playwright drives the system one; it downloads nothing).
if [ ! -x /usr/bin/chromium ]; then
  need_root chromium "sudo apt-get install chromium chromium-driver"
  echo "installing Debian chromium and chromium-driver..."
  apt_install chromium chromium-driver
fi

# The openssl command: the notification tests make a throwaway certificate for their TLS mail server.
if ! command -v openssl >/dev/null; then
  need_root openssl "sudo apt-get install openssl"
  echo "installing openssl..."
  apt_install openssl
fi

# 2. PostgreSQL: tests create and drop a throwaway database per run.
if ! port_open "$PG_HOST" "$PG_PORT"; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    need_root postgresql "sudo apt-get install postgresql"
    echo "installing PostgreSQL..."
    apt_install postgresql
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "starting PostgreSQL $version (as the postgres user)..."
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
  for _ in $(seq 1 30); do port_open "$PG_HOST" "$PG_PORT" && break; sleep 0.5; done
  # A server we started ourselves gets the password the test URL uses (Debian's default is md5/scram).
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
fi
port_open "$PG_HOST" "$PG_PORT" || { echo "error: PostgreSQL does not answer on $PG_HOST:$PG_PORT" >&2; exit 1; }

# 3. Mosquitto: ingest tests start a private broker on a free port from this binary.
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  need_root mosquitto "sudo apt-get install mosquitto"
  echo "installing Mosquitto..."
  apt_install mosquitto
fi
# 4. Redis: the shared result cache of several gunicorn workers (the cache tests and the load smoke test).
if ! port_open 127.0.0.1 6379; then
  if ! command -v redis-server >/dev/null 2>&1; then
    need_root redis-server "sudo apt-get install redis-server"
    echo "installing Redis..."
    apt_install redis-server
  fi
  echo "starting Redis on 127.0.0.1:6379 (nothing kept on disk)..."
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 20); do port_open 127.0.0.1 6379 && break; sleep 0.25; done
fi
port_open 127.0.0.1 6379 || { echo "error: Redis does not answer on 127.0.0.1:6379" >&2; exit 1; }
# 5. axe-core for the accessibility tests (pinned in package.json + package-lock.json; npm registry).
if ! command -v npm >/dev/null 2>&1; then
  need_root npm "sudo apt-get install nodejs npm"
  echo "installing Node.js and npm..."
  apt_install nodejs npm
fi
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -f "$ROOT_DIR/node_modules/axe-core/axe.min.js" ] || [ "$ROOT_DIR/package-lock.json" -nt "$ROOT_DIR/node_modules/.package-lock.json" ]; then
  echo "installing axe-core (npm ci)..."
  (cd "$ROOT_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "test services ready: chromium, PostgreSQL on $PG_HOST:$PG_PORT, mosquitto, Redis, axe-core"
