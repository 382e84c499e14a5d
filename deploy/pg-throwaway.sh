#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in a folder: for tests, the demo and benches.
#   pg-throwaway.sh start DIR PORT   initdb (if needed) and start; unix socket in DIR
#   pg-throwaway.sh stop DIR         stop immediately and remove DIR
# Prints nothing on success but the connection URI (start). As root, the
# cluster runs as the postgres user (initdb refuses root).
set -euo pipefail

cmd=${1:?usage: pg-throwaway.sh start DIR PORT | stop DIR}
dir=${2:?DIR required}

bindir=${SLIPWAY_PG_BINDIR:-}
if [[ -z "$bindir" ]]; then
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$d/initdb" ]]; then bindir=$d; break; fi
  done
fi
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "pg-throwaway: no PostgreSQL server binaries (install postgresql, or set SLIPWAY_PG_BINDIR)" >&2
  exit 1
fi

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    port=${3:?PORT required}
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
    chmod 0700 "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { echo "pg-throwaway: initdb failed, see $dir/initdb.log" >&2; tail -5 "$dir/initdb.log" >&2; exit 1; }
      cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = on
max_connections = 60
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
log_min_messages = warning
CONF
      cat >"$dir/data/pg_hba.conf" <<HBA
local all slipway_pw scram-sha-256
local all all trust
HBA
    fi
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
      { echo "pg-throwaway: server did not start, see $dir/server.log" >&2; tail -5 "$dir/server.log" >&2; exit 1; }
    echo "postgresql:///postgres?host=$dir&port=$port&user=postgres"
    ;;
  stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg-throwaway.sh start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
