#!/bin/sh
# Locust in a container: `docker/locust.sh --master ...` or `docker/locust.sh --worker ...`.
#
# Each replica of a scaled worker service runs Locust as the same PID, and the locustfile names
# its records file after its PID: a shared /records volume would have every worker overwrite
# the same file. Each container therefore records into its own subdirectory, named by hostname.
set -eu
if [ -n "${LOAD_RECORDS_DIR:-}" ]; then
    LOAD_RECORDS_DIR="${LOAD_RECORDS_DIR%/}/$(hostname)"
    export LOAD_RECORDS_DIR
fi
exec locust -f harness/load/locustfile.py "$@"
