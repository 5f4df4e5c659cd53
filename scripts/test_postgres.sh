#!/usr/bin/env bash
# A PostgreSQL/PostGIS server for the tests on 127.0.0.1:5432 (Debian's packages, as root):
# starts the cluster and makes, once, the role `workbench` (may create databases), the database
# `workbench_test` and the template `workbench_template` with PostGIS that every test copies.
# The tests find it through WORKBENCH_TEST_DATABASE_URL (default
# postgresql+psycopg://workbench:workbench@127.0.0.1:5432/workbench_test).
set -euo pipefail
if [ "$(id -u)" != 0 ] || ! command -v pg_ctlcluster >/dev/null; then
    echo "test_postgres: needs root and Debian's postgresql; the PostgreSQL tests will skip" >&2
    exit 0
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
pg_lsclusters -h | grep -q "^$version main" || pg_createcluster "$version" main >/dev/null
pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
psql_as() { su postgres -c "PGOPTIONS=--client-min-messages=warning psql -q -v ON_ERROR_STOP=1 $*"; }
psql_as "-tc \"SELECT 1 FROM pg_roles WHERE rolname = 'workbench'\"" | grep -q 1 ||
    psql_as "-c \"CREATE ROLE workbench LOGIN CREATEDB PASSWORD 'workbench'\""
psql_as "-c \"ALTER ROLE workbench CREATEDB\""
# to drop a test database while autovacuum works in it (DROP DATABASE … WITH (FORCE))
psql_as "-c \"GRANT pg_signal_backend TO workbench\""
for db in workbench_test workbench_template; do
    psql_as "-tc \"SELECT 1 FROM pg_database WHERE datname = '$db'\"" | grep -q 1 ||
        psql_as "-c \"CREATE DATABASE $db OWNER workbench\""
    psql_as "-d $db -c \"CREATE EXTENSION IF NOT EXISTS postgis\""
done
echo "test_postgres: PostgreSQL $version with PostGIS ready on 127.0.0.1:5432"
