#!/usr/bin/env bash
# Stops the server started by start-postgres.sh and removes its files.
set -u
D=${1:-${PG_TMPDIR:-}}
[ -n "$D" ] && [ -d "$D" ] || exit 0
if [ -f "$D/data/postmaster.pid" ]; then
  pid=$(head -1 "$D/data/postmaster.pid")
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
rm -rf "$D"
