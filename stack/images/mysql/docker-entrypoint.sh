#!/bin/bash
# Entrypoint of the MariaDB stand-in for mysql:8.0, following the official mysql image:
#   MYSQL_ROOT_PASSWORD | MYSQL_ALLOW_EMPTY_PASSWORD | MYSQL_RANDOM_ROOT_PASSWORD (one needed),
#   MYSQL_ROOT_HOST (default %), MYSQL_DATABASE, MYSQL_USER + MYSQL_PASSWORD (ALL on that
#   database only), MYSQL_INITDB_SKIP_TZINFO, and VAR_FILE for each; and, as the official
#   mariadb image does, the MARIADB_* name of each (MARIADB_ROOT_PASSWORD, MARIADB_DATABASE,
#   MARIADB_USER, MARIADB_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD, ..., and their _FILE
#   forms), which wins over the MYSQL_* one; on first start only
#   (empty data directory) runs /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz|.xz|.bz2|.zst
#   against a temporary server that listens on a private socket only; then execs mariadbd
#   as PID 1. Arguments starting with '-' are server options; MySQL-only ones are dropped.
# No password is ever put on a command line: SQL goes through stdin, as root over the
# socket (unix_socket authentication, removed from root@localhost when initialisation ends).
set -eo pipefail
shopt -s nullglob

mysql_log() {
    local type=$1
    shift
    printf '%s [%s] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$type" "$*"
}
mysql_note() { mysql_log Note "$@"; }
mysql_warn() { mysql_log Warn "$@" >&2; }
mysql_error() {
    mysql_log ERROR "$@" >&2
    exit 1
}

# file_env VAR [DEFAULT]: VAR or the contents of the file named by VAR_FILE.
file_env() {
    local var=$1 fileVar="${1}_FILE" def=${2:-}
    if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
        mysql_error "both $var and $fileVar are set (but are exclusive)"
    fi
    local val=$def
    if [ "${!var:-}" ]; then
        val=${!var}
    elif [ "${!fileVar:-}" ]; then
        val=$(<"${!fileVar}")
    fi
    export "$var"="$val"
    unset "$fileVar"
}

# mariadb_file_env MYSQL_VAR [DEFAULT] [MARIADB_VAR]: the official mariadb image's rule:
# MARIADB_VAR (or MARIADB_VAR_FILE) wins over MYSQL_VAR (or MYSQL_VAR_FILE); both are exported
# with the value, so init scripts may read either name.
mariadb_file_env() {
    local var=$1 def=${2:-} maria=${3:-MARIADB_${1#MYSQL_}}
    file_env "$var" "$def"
    file_env "$maria" "${!var}"
    export "$var"="${!maria}"
}

# SQL string literal contents: backslash and single quote escaped (NO_BACKSLASH_ESCAPES off).
sql_escape_string() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\'/\\\'}
    printf '%s' "$s"
}
# Identifier inside backticks.
sql_escape_ident() { printf '%s' "${1//\`/\`\`}"; }

INIT_SOCKET=/run/mysqld/init.sock

# MySQL-only options that MariaDB lacks or only warns about. NAME takes a value, NAME! not.
MYSQL_ONLY_OPTIONS=(
    default-authentication-plugin authentication-policy admin-address admin-port
    mysqlx-port mysqlx-bind-address mysqlx-socket mysqlx-port-open-timeout
    innodb-dedicated-server log-error-verbosity binlog-transaction-dependency-tracking
    caching-sha2-password-private-key-path caching-sha2-password-public-key-path
    caching-sha2-password-auto-generate-rsa-keys sha256-password-auto-generate-rsa-keys
    sha256-password-private-key-path sha256-password-public-key-path
    mysql-native-password! mysqlx! skip-mysqlx! persisted-globals-load!
    skip-persisted-globals-load! skip-host-cache!
)

is_mysql_only() { # normalised option name -> 0 (value taken) / 2 (no value) / 1 (not listed)
    local o
    for o in "${MYSQL_ONLY_OPTIONS[@]}"; do
        [ "$1" = "${o%!}" ] || continue
        [ "$o" = "${o%!}" ] && return 0
        return 2
    done
    return 1
}

server_bin=mariadbd
declare -a server_args=()

# Sets server_args from the arguments after the server's name, dropping what MariaDB
# cannot take.
filter_server_args() {
    local arg name rc
    server_args=()
    while [ $# -gt 0 ]; do
        arg=$1
        shift
        case "$arg" in
        --*)
            name=${arg#--}
            name=${name%%=*}
            name=${name//_/-}
            rc=0
            is_mysql_only "$name" || rc=$?
            if [ $rc = 0 ] || [ $rc = 2 ]; then
                mysql_note "dropping MySQL-only server option $arg (MariaDB stand-in)" >&2
                # "--option value" form: drop the value too
                if [ $rc = 0 ] && [ "$arg" = "--${arg#--}" ] && [ "${arg#*=}" = "$arg" ] \
                    && [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
                    shift
                fi
                continue
            fi
            ;;
        esac
        server_args+=("$arg")
    done
    # Anything else MariaDB does not know: found by asking it, then dropped one by one.
    if ! server_help=$("$server_bin" "${server_args[@]}" --verbose --help 2>/dev/null); then
        server_help=
        local kept=()
        for arg in "${server_args[@]}"; do
            case "$arg" in
            -*)
                if ! "$server_bin" "$arg" --verbose --help >/dev/null 2>&1; then
                    mysql_note "dropping server option $arg: MariaDB does not accept it" >&2
                    continue
                fi
                ;;
            esac
            kept+=("$arg")
        done
        server_args=("${kept[@]}")
    fi
}

server_help=
server_config() { # NAME: value of a server variable with the given arguments
    [ -n "$server_help" ] || server_help=$("$server_bin" "${server_args[@]}" --verbose --help 2>/dev/null)
    # awk reads everything (no early `exit`): under pipefail, printf killed by SIGPIPE after awk
    # stopped reading would fail the entrypoint (seen under load: exit 141 at first start)
    awk -v n="$1" '!found && $1 == n { sub(/^[^ \t]+[ \t]+/, ""); print; found = 1 }' <<<"$server_help"
}

docker_process_sql() { # SQL on stdin, to the temporary server, as root over its socket
    if [ "${1:-}" = '--dont-use-mysql-root-password' ]; then
        shift
    fi
    if [ -n "${MYSQL_DATABASE:-}" ]; then
        set -- --database="$MYSQL_DATABASE" "$@"
    fi
    mariadb --protocol=socket --socket="$INIT_SOCKET" -uroot --comments --batch "$@"
}

docker_process_init_files() {
    local f
    echo
    for f; do
        case "$f" in
        *.sh)
            if [ -x "$f" ]; then
                mysql_note "$0: running $f"
                "$f"
            else
                mysql_note "$0: sourcing $f"
                # shellcheck disable=SC1090
                . "$f"
            fi
            ;;
        *.sql)
            mysql_note "$0: running $f"
            docker_process_sql <"$f"
            ;;
        *.sql.gz)
            mysql_note "$0: running $f"
            gunzip -c "$f" | docker_process_sql
            ;;
        *.sql.xz)
            mysql_note "$0: running $f"
            xzcat "$f" | docker_process_sql
            ;;
        *.sql.bz2)
            mysql_note "$0: running $f"
            bunzip2 -c "$f" | docker_process_sql
            ;;
        *.sql.zst)
            mysql_note "$0: running $f"
            zstd -dc "$f" | docker_process_sql
            ;;
        *) mysql_warn "$0: ignoring $f" ;;
        esac
        echo
    done
}

temp_server_pid=
docker_temp_server_start() {
    "$server_bin" "${server_args[@]}" --skip-networking --socket="$INIT_SOCKET" \
        --default-time-zone=SYSTEM --event-scheduler=OFF &
    temp_server_pid=$!
    for _ in $(seq 120); do
        if echo 'SELECT 1' | mariadb --protocol=socket --socket="$INIT_SOCKET" -uroot \
            --connect-timeout=1 >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$temp_server_pid" 2>/dev/null || mysql_error "temporary server failed to start"
        sleep 0.5
    done
    mysql_error "temporary server did not answer within 60 s"
}

docker_temp_server_stop() {
    kill -TERM "$temp_server_pid"
    wait "$temp_server_pid" || mysql_error "temporary server did not stop cleanly"
    temp_server_pid=
}

docker_verify_minimum_env() {
    if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] \
        && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
        mysql_error $'Database is uninitialized and password option is not specified\n' \
            $'\tYou need to specify one of the following as an environment variable:\n' \
            $'\t- MYSQL_ROOT_PASSWORD\n\t- MYSQL_ALLOW_EMPTY_PASSWORD\n\t- MYSQL_RANDOM_ROOT_PASSWORD' \
            $'\n\t(or MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD, MARIADB_RANDOM_ROOT_PASSWORD)'
    fi
    if [ "$MYSQL_USER" = root ]; then
        mysql_error 'MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a' \
            'regular user and cannot be used for the root user' \
            $'\n    Remove MYSQL_USER="root" and use one of the following to control the root user password:\n' \
            $'\t- MYSQL_ROOT_PASSWORD\n\t- MYSQL_ALLOW_EMPTY_PASSWORD\n\t- MYSQL_RANDOM_ROOT_PASSWORD'
    fi
    if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
        mysql_warn 'MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created'
    elif [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        mysql_warn 'MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored'
    fi
}

docker_setup_db() {
    local rootpw rootHost userSql="" dropSql="" u
    if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
        MYSQL_ROOT_PASSWORD=$(head -c 24 /dev/urandom | base64)
        export MYSQL_ROOT_PASSWORD MARIADB_ROOT_PASSWORD="$MYSQL_ROOT_PASSWORD"
        mysql_note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi
    rootpw=$(sql_escape_string "$MYSQL_ROOT_PASSWORD")
    rootHost=$(sql_escape_string "${MYSQL_ROOT_HOST:-%}")

    # Accounts the official image does not have (the OS user 'mysql', anonymous ones,
    # root at other hosts): only root and the system views' definer stay.
    while IFS=$'\t' read -r u; do
        [ -n "$u" ] && dropSql+="DROP USER IF EXISTS $u;"$'\n'
    done < <(echo "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user
        WHERE NOT (User = 'root' AND Host = 'localhost') AND User <> 'mariadb.sys';" \
        | docker_process_sql --database=mysql --skip-column-names)

    if [ "${MYSQL_ROOT_HOST:-%}" != localhost ]; then
        userSql="CREATE USER 'root'@'${rootHost}' IDENTIFIED BY '${rootpw}';
GRANT ALL ON *.* TO 'root'@'${rootHost}' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO 'root'@'${rootHost}' WITH GRANT OPTION;"
    fi

    docker_process_sql --dont-use-mysql-root-password --database=mysql <<EOSQL
SET @@SESSION.SQL_LOG_BIN=0;
${dropSql}
DELETE FROM mysql.proxies_priv WHERE NOT (User = 'root' AND Host = 'localhost');
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('${rootpw}') OR unix_socket;
${userSql}
FLUSH PRIVILEGES;
EOSQL

    if [ -n "$MYSQL_DATABASE" ]; then
        mysql_note "Creating database ${MYSQL_DATABASE}"
        echo "CREATE DATABASE IF NOT EXISTS \`$(sql_escape_ident "$MYSQL_DATABASE")\`;" \
            | docker_process_sql --database=mysql
    fi

    if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        mysql_note "Creating user ${MYSQL_USER}"
        local user pw dbpattern
        user=$(sql_escape_string "$MYSQL_USER")
        pw=$(sql_escape_string "$MYSQL_PASSWORD")
        if [ -n "$MYSQL_DATABASE" ]; then
            mysql_note "Giving user ${MYSQL_USER} access to schema ${MYSQL_DATABASE}"
        fi
        {
            echo "CREATE USER '${user}'@'%' IDENTIFIED BY '${pw}';"
            if [ -n "$MYSQL_DATABASE" ]; then
                # In GRANT, _ and % in a database name are wildcards: escape them, as the
                # official image does.
                dbpattern=$(sql_escape_ident "$MYSQL_DATABASE")
                dbpattern=${dbpattern//_/\\_}
                dbpattern=${dbpattern//%/\\%}
                echo "GRANT ALL ON \`${dbpattern}\`.* TO '${user}'@'%';"
            fi
            echo "FLUSH PRIVILEGES;"
        } | docker_process_sql --database=mysql
    fi
}

docker_finish_root() { # root@localhost: password only from now on, as in the official image
    local rootpw
    rootpw=$(sql_escape_string "$MYSQL_ROOT_PASSWORD")
    docker_process_sql --database=mysql <<EOSQL
SET @@SESSION.SQL_LOG_BIN=0;
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('${rootpw}');
FLUSH PRIVILEGES;
EOSQL
}

docker_init_database_dir() {
    mysql_note "Initializing database files"
    local out
    if ! out=$(mariadb-install-db "${server_args[@]}" --user="$run_user" --datadir="$DATADIR" \
        --skip-test-db --skip-name-resolve --auth-root-authentication-method=socket 2>&1); then
        printf '%s\n' "$out" >&2
        mysql_error "mariadb-install-db failed"
    fi
    mysql_note "Database files initialized"
}

_main() {
    if [ "${1:0:1}" = '-' ]; then
        set -- mysqld "$@"
    fi
    case "$1" in
    mysqld | mariadbd) ;;
    *) exec "$@" ;;
    esac
    shift
    local a
    for a; do
        case "$a" in
        -'?' | --help | --print-defaults | -V | --version) exec "$server_bin" "$@" ;;
        esac
    done

    mysql_note "Entrypoint script for the MariaDB stand-in of mysql:8.0 started."
    filter_server_args "$@"

    run_user=$(id -un)
    if [ "$(id -u)" = 0 ]; then
        run_user=mysql
        local has_user=0
        for a in "${server_args[@]}"; do
            case "$a" in --user=* | -u*) has_user=1 ;; esac
        done
        [ $has_user = 1 ] || server_args=(--user=mysql "${server_args[@]}")
    fi

    DATADIR=$(server_config datadir)
    DATADIR=${DATADIR%/}
    [ -n "$DATADIR" ] || mysql_error "cannot read the server's datadir (bad server options?)"

    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$DATADIR" /run/mysqld
        find "$DATADIR" \! -user mysql -exec chown mysql: '{}' +
        chown mysql: /run/mysqld
    fi

    if [ ! -d "$DATADIR/mysql" ]; then
        mariadb_file_env MYSQL_ROOT_HOST '%'
        mariadb_file_env MYSQL_DATABASE
        mariadb_file_env MYSQL_USER
        mariadb_file_env MYSQL_PASSWORD
        mariadb_file_env MYSQL_ROOT_PASSWORD
        mariadb_file_env MYSQL_ALLOW_EMPTY_PASSWORD '' MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
        mariadb_file_env MYSQL_RANDOM_ROOT_PASSWORD
        mariadb_file_env MYSQL_INITDB_SKIP_TZINFO
        docker_verify_minimum_env
        [ "$(id -u)" = 0 ] || mysql_error "first-start initialisation of the stand-in needs the container to run as root"

        docker_init_database_dir
        mysql_note "Starting temporary server"
        # Scripts in /docker-entrypoint-initdb.d reach the temporary server by default.
        export MYSQL_UNIX_PORT="$INIT_SOCKET"
        docker_temp_server_start
        mysql_note "Temporary server started."

        if [ -z "$MYSQL_INITDB_SKIP_TZINFO" ]; then
            # sed: like the official image, for a zone that tzinfo-to-sql cannot name
            mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null \
                | sed 's/Local time zone must be set--see zic manual page/FCTY/' \
                | docker_process_sql --database=mysql
        fi
        docker_setup_db
        docker_process_init_files /docker-entrypoint-initdb.d/*
        docker_finish_root

        mysql_note "Stopping temporary server"
        docker_temp_server_stop
        unset MYSQL_UNIX_PORT
        mysql_note "Temporary server stopped"
        echo
        mysql_note "MySQL init process done. Ready for start up."
        echo
    fi

    # Secrets are not needed past initialisation: keep them out of the server's environment.
    unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD MARIADB_ROOT_PASSWORD MARIADB_PASSWORD
    exec "$server_bin" "${server_args[@]}"
}

_main "$@"
