#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server on 127.0.0.1 for the test suite and prints its URL on stdout.
# Usage: eval "$(bash .ci/start-postgres.sh)"  → sets DATABASE_URL and PG_TMPDIR; stop with .ci/stop-postgres.sh.
# PostgreSQL refuses to run as root, so as root it runs as the dedicated 'postgres' user.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${PGPORT_TEST:-55432}
if [ ! -x "$PGBIN/postgres" ]; then
  echo "installing postgresql-15 (not found under $PGBIN)" >&2
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15) >&2
  else
    echo "PostgreSQL 15 is missing and this user cannot install it" >&2; exit 1
  fi
fi
D=$(mktemp -d /tmp/openprum-pg.XXXXXX)
chmod 755 "$D"
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$D"
  AS=(runuser -u postgres --)
else
  AS=()
fi
"${AS[@]}" "$PGBIN/initdb" -D "$D/data" -U postgres --auth=trust --no-sync >"$D/initdb.log" 2>&1 || { cat "$D/initdb.log" >&2; exit 1; }
"${AS[@]}" "$PGBIN/pg_ctl" -D "$D/data" -l "$D/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $D -c fsync=off -c max_connections=200" start >&2
echo "export PG_TMPDIR=$D"
echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
