#!/usr/bin/env bash
# Backup of the runbook (scripts/backup.sh): mysqldump of the app database, gzip,
# 30-day retention; plus archives of uploads/ and vector_db/ from the backend.
#
# A run either leaves a complete, verified set of artifacts or none: everything is written
# to temporary files in BACKUP_DIR, checked, then linked to its final name.
#
# Environment:
#   BACKUP_DIR             where backups go (default: backups/ at the repo root), created 0700
#   BACKUP_DATABASE        database to dump (default: MYSQL_DATABASE of the mysql container)
#   BACKUP_RETENTION_DAYS  delete backups older than this many days (default 30)
#   BACKUP_FILES           1: also archive uploads/ and vector_db/ (default 1), 0: database only
#   STACK_ENV_FILE         env file for compose (default: .env at the repo root)
#   COMPOSE_FILE           compose file(s), as docker compose reads it
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

for arg in "$@"; do
    case "$arg" in
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die 2 "unknown argument: $arg (configure backup.sh through BACKUP_* variables; see --help)" ;;
    esac
done

require_env_file

BACKUP_DIR=$(abspath "${BACKUP_DIR:-$ROOT/backups}")
RETENTION_DAYS=${BACKUP_RETENTION_DAYS:-30}
BACKUP_FILES=${BACKUP_FILES:-1}
[[ "$RETENTION_DAYS" =~ ^[0-9]+$ ]] ||
    die 2 "BACKUP_RETENTION_DAYS must be a whole number of days, got '$RETENTION_DAYS'"
[[ "$BACKUP_FILES" == 0 || "$BACKUP_FILES" == 1 ]] ||
    die 2 "BACKUP_FILES must be 0 or 1, got '$BACKUP_FILES'"

# Backups hold every row of the database: readable by the owner only.
umask 077

if [[ ! -d "$BACKUP_DIR" ]]; then
    # shellcheck disable=SC2174  # parents get 0700 from the umask anyway
    mkdir -p -m 0700 -- "$BACKUP_DIR" || die 1 "cannot create backup directory $BACKUP_DIR"
elif [[ -n "$(find "$BACKUP_DIR" -maxdepth 0 -perm /077)" ]]; then
    # Not changed here: it may be a shared directory we do not own.
    printf 'warning: backup directory %s is accessible by group/others (chmod 700 it)\n' "$BACKUP_DIR" >&2
fi
[[ -w "$BACKUP_DIR" ]] || die 1 "backup directory not writable: $BACKUP_DIR"

# One second per run: wait for a timestamp no earlier run used (`ln` below still refuses
# to overwrite if two runs race).
for _ in 1 2 3; do
    TIMESTAMP=$(date +%Y%m%d_%H%M%S)
    compgen -G "$BACKUP_DIR/*backup_${TIMESTAMP}.*" >/dev/null || break
    sleep 1
done
TEMPS=()     # temporary files of this run, removed on exit
FINALS=()    # final names already linked, removed if a later step fails
COMPLETE=0

cleanup() {
    local f
    rm -f -- "${TEMPS[@]}"
    if [[ "$COMPLETE" != 1 ]]; then
        for f in "${FINALS[@]}"; do rm -f -- "$f"; done
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# new_temp NAME: sets TEMP to a new temp file in BACKUP_DIR that no retention glob matches
# (not a command substitution: TEMPS must be recorded in this shell, for cleanup).
new_temp() {
    TEMP=$(mktemp --suffix=.tmp "$BACKUP_DIR/.$1.XXXXXX") || die 1 "cannot create a file in $BACKUP_DIR"
    TEMPS+=("$TEMP")
}

size_of() {
    du -h -- "$1" | cut -f1
}

# --- database ---------------------------------------------------------------------------
database=${BACKUP_DATABASE:-}
if [[ -z "$database" ]]; then
    # shellcheck disable=SC2016  # the container's variable, expanded there
    database=$(compose exec -T mysql sh -c 'printf "%s" "$MYSQL_DATABASE"' </dev/null) ||
        die 1 "cannot reach the mysql service (is the stack running? try: deploy.sh start)"
    [[ -n "$database" ]] || die 1 "MYSQL_DATABASE is empty in the mysql container (set BACKUP_DATABASE)"
fi

# Names starting with "-" would be read as options by mysqldump.
[[ "$database" != -* ]] || die 2 "invalid database name: $database"

echo "Starting database backup of '$database'..."
new_temp "backup_$TIMESTAMP.sql.gz"
db_tmp=$TEMP
# The root password comes from the container's own environment through MYSQL_PWD, so it is
# never on a command line (neither docker's nor mysqldump's).
# shellcheck disable=SC2016  # expanded by the container's shell, on purpose
if ! compose exec -T mysql sh -c '
        dump=$(command -v mysqldump || command -v mariadb-dump) || { echo "mysqldump not found" >&2; exit 127; }
        MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec "$dump" -uroot \
            --single-transaction --routines --triggers --events \
            --hex-blob --default-character-set=utf8mb4 "$1"' sh "$database" </dev/null |
    gzip -c >"$db_tmp"; then
    die 1 "mysqldump of '$database' failed (see the message above; is the mysql service running and the database name right?)"
fi
gzip -t -- "$db_tmp" 2>/dev/null || die 1 "database dump is not valid gzip"
# Only a complete dump ends with this trailer; anything else was cut short.
trailer=$({ gzip -dc -- "$db_tmp" || true; } | tail -n 1)
[[ "$trailer" == "-- Dump completed"* ]] ||
    die 1 "database dump is incomplete (no '-- Dump completed' trailer)"

# --- files ------------------------------------------------------------------------------
declare -A ARCHIVES=()
if [[ "$BACKUP_FILES" == 1 ]]; then
    for dir in uploads vector_db; do
        echo "Archiving $dir/ from the backend..."
        new_temp "${dir}_backup_$TIMESTAMP.tar.gz"
        tmp=$TEMP
        compose exec -T backend tar -C /app -czf - "$dir" </dev/null >"$tmp" ||
            die 1 "archive of $dir/ failed (is the backend service running?)"
        gzip -t -- "$tmp" 2>/dev/null || die 1 "archive of $dir/ is not valid gzip"
        tar -tzf "$tmp" >/dev/null 2>&1 || die 1 "archive of $dir/ is not a readable tar"
        ARCHIVES[$dir]=$tmp
    done
fi

# --- publish ----------------------------------------------------------------------------
# `ln` fails rather than overwrite an existing backup; the link is atomic.
publish() {  # publish TEMP FINAL
    ln -- "$1" "$2" || die 1 "cannot create $2 (does it already exist?)"
    FINALS+=("$2")
}
db_final=$BACKUP_DIR/backup_$TIMESTAMP.sql.gz
publish "$db_tmp" "$db_final"
for dir in "${!ARCHIVES[@]}"; do
    publish "${ARCHIVES[$dir]}" "$BACKUP_DIR/${dir}_backup_$TIMESTAMP.tar.gz"
done
COMPLETE=1

for f in "${FINALS[@]}"; do
    printf 'Backup completed: %s (%s)\n' "$f" "$(size_of "$f")"
done

# --- retention --------------------------------------------------------------------------
find "$BACKUP_DIR" -maxdepth 1 -type f \
    \( -name 'backup_*.sql.gz' -o -name 'uploads_backup_*.tar.gz' -o -name 'vector_db_backup_*.tar.gz' \) \
    -mtime +"$RETENTION_DAYS" -delete
# Leftovers of runs killed with SIGKILL (no trap ran).
find "$BACKUP_DIR" -maxdepth 1 -type f -name '.*.tmp' -mmin +1440 -delete
echo "Old backups cleaned up (retention: $RETENTION_DAYS days)"
