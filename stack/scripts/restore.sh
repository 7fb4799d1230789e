#!/usr/bin/env bash
# Restore a backup made by backup.sh (a single-database mysqldump, .sql.gz or .sql) into a
# database: by default the scratch database `restore_check`, never the live app database
# unless --force-live is given.
#
# usage: restore.sh FILE [--database NAME] [--replace] [--force-live]
#   --database NAME  target database (default: restore_check); created if missing
#   --replace        drop and recreate the target if it already exists (not for the live one)
#   --force-live     allow the target to be the live app database (MYSQL_DATABASE); its
#                    tables are overwritten in place
#
# The file is checked (exists, intact gzip, complete dump naming no database) before the
# database is touched. A target this script created is dropped again if the restore fails.
# Exit codes: 0 restored, 2 bad input (nothing touched), 1 any other failure.
#
# Environment: STACK_ENV_FILE (default .env at the repo root), COMPOSE_FILE.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

file=
target=restore_check
force_live=0
replace=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --database)
            [[ $# -ge 2 ]] || die 2 "--database needs a name (usage: restore.sh FILE [--database NAME] [--force-live])"
            target=$2
            shift 2
            ;;
        --database=*) target=${1#--database=}; shift ;;
        --force-live) force_live=1; shift ;;
        --replace) replace=1; shift ;;
        -*) die 2 "unknown option: $1 (usage: restore.sh FILE [--database NAME] [--replace] [--force-live])" ;;
        *)
            [[ -z "$file" ]] || die 2 "one backup file only, got '$file' and '$1'"
            file=$1
            shift
            ;;
    esac
done
[[ -n "$file" ]] || die 2 "no backup file given (usage: restore.sh FILE [--database NAME] [--force-live])"
# Quoted with backticks in SQL below: allow only plain identifiers.
[[ "$target" =~ ^[A-Za-z0-9_]{1,64}$ ]] ||
    die 2 "invalid database name: '$target' (letters, digits and _ only)"

# --- check the file before touching anything ------------------------------------------
path=$(abspath "$file")
[[ -f "$path" ]] || die 2 "backup file not found: $file"
[[ -r "$path" ]] || die 2 "backup file not readable: $file"

case "$path" in
    *.gz)
        if ! gz_error=$(gzip -t -- "$path" 2>&1); then
            # gzip says "gzip: PATH: what went wrong" (after a blank line): keep the what.
            gz_error=$(printf '%s\n' "$gz_error" | sed '/^[[:space:]]*$/d' | tail -n 1)
            gz_error=${gz_error#gzip: }
            gz_error=${gz_error#"$path": }
            die 2 "corrupt backup file: $file (gzip: ${gz_error:-integrity check failed})"
        fi
        reader=(gzip -dc --)
        ;;
    *) reader=(cat --) ;;
esac
read_dump() {
    "${reader[@]}" "$path"
}

# Only a complete mysqldump ends with this trailer.
trailer=$({ read_dump || true; } | tail -n 1)
[[ "$trailer" == "-- Dump completed"* ]] ||
    die 2 "incomplete backup file: $file (no '-- Dump completed' trailer: truncated or not a mysqldump)"
# A dump made with --databases/--all-databases switches database itself and would write
# wherever it names, whatever the target: refuse it.
if { read_dump || true; } | grep -Eiq '^(USE|CREATE DATABASE) '; then
    die 2 "backup file names a database (made with --databases?): $file (restore.sh restores single-database dumps only)"
fi

# --- environment ------------------------------------------------------------------------
require_env_file

# mysql as root, SQL on stdin; the password comes from the container's environment
# through MYSQL_PWD, never a command line.
mysql_root() {  # mysql_root [DATABASE] < SQL
    # shellcheck disable=SC2016  # expanded by the container's shell, on purpose
    compose exec -T mysql sh -c '
        client=$(command -v mysql || command -v mariadb) || { echo "mysql client not found" >&2; exit 127; }
        MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec "$client" -uroot --batch --skip-column-names \
            --default-character-set=utf8mb4 ${1:+"$1"}' sh "${1:-}"
}

# shellcheck disable=SC2016  # the container's variable, expanded there
live=$(compose exec -T mysql sh -c 'printf "%s" "$MYSQL_DATABASE"' </dev/null) ||
    die 1 "cannot reach the mysql service (is the stack running? try: deploy.sh start)"
if [[ "$target" == "$live" && "$force_live" != 1 ]]; then
    die 2 "refusing to restore over the live database '$live' (restore into a scratch database with --database NAME, or pass --force-live)"
fi
if [[ "$target" == "$live" && "$replace" == 1 ]]; then
    die 2 "--replace would drop the live database '$live' (leave it out: --force-live overwrites its tables in place)"
fi

exists=$(mysql_root <<<"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '$target';") ||
    die 1 "cannot query the mysql server"
created=0
if [[ "$exists" != 0 && "$target" != "$live" ]]; then
    [[ "$replace" == 1 ]] ||
        die 2 "database '$target' already exists (pass --replace to drop and recreate it, or choose another --database)"
    mysql_root <<<"DROP DATABASE \`$target\`;" || die 1 "cannot drop database '$target'"
    exists=0
fi
if [[ "$exists" == 0 ]]; then
    mysql_root <<<"CREATE DATABASE \`$target\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;" ||
        die 1 "cannot create database '$target'"
    created=1
fi

# Nothing half-done: a database we created is dropped again if the restore fails.
on_exit() {
    local status=$?
    if [[ $status -ne 0 && "$created" == 1 ]]; then
        printf 'restore failed: dropping the partially restored database %s\n' "$target" >&2
        mysql_root <<<"DROP DATABASE IF EXISTS \`$target\`;" >/dev/null || true
    elif [[ $status -ne 0 ]]; then
        printf 'restore failed: database %s may be partially restored\n' "$target" >&2
    fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "Restoring $file into database '$target'..."
started=$SECONDS
read_dump | mysql_root "$target" || die 1 "restore into '$target' failed (see the message above)"
tables=$(mysql_root <<<"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$target';") ||
    die 1 "cannot list the restored tables"
echo "Restore completed: database '$target', $tables tables, $((SECONDS - started)) s"
