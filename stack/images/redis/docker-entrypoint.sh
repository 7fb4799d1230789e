#!/bin/sh
# As the official redis image: options or a .conf file as first argument mean redis-server;
# redis-server started as root drops to the user redis (owning /data); anything else runs
# as given (e.g. `sh -c '... exec redis-server /tmp/redis.conf'`).
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# Files the server writes are private unless the caller chose a umask.
um="$(umask)"
if [ "$um" = '0022' ]; then
    umask 0077
fi

exec "$@"
