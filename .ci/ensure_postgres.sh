#!/usr/bin/env bash
# Make sure PostgreSQL accepts connections on 127.0.0.1:5432, starting the local
# (Debian/Ubuntu postgresql-common) cluster if it is down. Fails loudly otherwise.
set -euo pipefail

host=127.0.0.1
port=5432
wait_seconds=30

ready() { pg_isready -h "$host" -p "$port" -q; }
fail() { echo "ensure_postgres: $*" >&2; exit 1; }

command -v pg_isready >/dev/null || fail "pg_isready not found: install the PostgreSQL client tools"
if ready; then
    echo "ensure_postgres: PostgreSQL is up on $host:$port"
    exit 0
fi

command -v pg_ctlcluster >/dev/null \
    || fail "PostgreSQL is down on $host:$port and pg_ctlcluster is not installed to start it"
version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$version" ] || fail "PostgreSQL is down on $host:$port and no cluster is configured in /etc/postgresql"

echo "ensure_postgres: PostgreSQL is down on $host:$port; starting cluster $version/main"
# "start" refuses when the cluster is already starting; the wait below settles it.
pg_ctlcluster --skip-systemctl-redirect "$version" main start \
    || echo "ensure_postgres: pg_ctlcluster start returned $?; waiting anyway" >&2

for _ in $(seq 1 $((wait_seconds * 10))); do
    if ready; then
        echo "ensure_postgres: PostgreSQL is up on $host:$port"
        exit 0
    fi
    sleep 0.1
done
log="/var/log/postgresql/postgresql-$version-main.log"
[ -r "$log" ] && tail -n 20 "$log" >&2
fail "PostgreSQL did not accept connections on $host:$port within ${wait_seconds}s"
