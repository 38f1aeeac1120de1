#!/usr/bin/env bash
# The legacy MySQL database (MariaDB from Debian's packages) on loopback,
# for `falcon migrate` and its tests: what `make legacy-db-up` and
# `make legacy-db-down` run.
#
#   db.sh up       install MariaDB if missing (apt-get), start it in the background on
#                  127.0.0.1:$LEGACY_DB_PORT with the binlog on in ROW format, create the
#                  database `legacy` with scripts/legacy/schema.sql, print the DSN
#   db.sh down     stop what `up` started
#   db.sh status   say whether it runs
#   db.sh dsn      print the DSN (user root, no password, loopback only)
#
# Port: LEGACY_DB_PORT (23306). Data: LEGACY_DB_DIR (.falcon/legacy-db). InnoDB buffer
# pool: LEGACY_DB_BUFFER_POOL (512M; the benchmark gives it the whole table).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PORT=${LEGACY_DB_PORT:-23306}
DIR=${LEGACY_DB_DIR:-$ROOT/.falcon/legacy-db}
SOCK=$DIR/mysqld.sock
PID=$DIR/mysqld.pid

log() { echo "legacy-db: $*" >&2; }
die() { log "$*"; exit 1; }

install() {
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] && return 0
	log "MariaDB is not installed: installing mariadb-server (Debian)"
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q >/dev/null
	# Only the binaries: the system service is not wanted (policy-rc.d may refuse it anyway).
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends mariadb-server mariadb-client >/dev/null
}

mariadbd_bin() { command -v mariadbd || echo /usr/sbin/mariadbd; }

running() { [ -f "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; }

client() { mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot "$@"; }

# charset=latin1: the columns' own, so their bytes arrive as they are stored.
dsn() { echo "root@tcp(127.0.0.1:$PORT)/legacy?parseTime=true&loc=UTC&charset=latin1"; }

up() {
	if running; then
		dsn
		return 0
	fi
	install
	mkdir -p "$DIR"
	local user=()
	[ "$(id -u)" = 0 ] && user=(--user=root)
	if [ ! -d "$DIR/data/mysql" ]; then
		mariadb-install-db --no-defaults --datadir="$DIR/data" "${user[@]}" \
			--auth-root-authentication-method=normal --skip-test-db >"$DIR/install.log" 2>&1 \
			|| { cat "$DIR/install.log"; die "mariadb-install-db failed"; }
	fi
	# The binlog in ROW format is what `falcon migrate follow` replicates from.
	nohup "$(mariadbd_bin)" --no-defaults --datadir="$DIR/data" "${user[@]}" \
		--bind-address=127.0.0.1 --port="$PORT" --socket="$SOCK" --pid-file="$PID" \
		--log-bin="$DIR/data/binlog" --binlog-format=ROW --binlog-row-image=FULL --server-id=1 \
		--character-set-server=latin1 --collation-server=latin1_bin \
		--innodb-buffer-pool-size="${LEGACY_DB_BUFFER_POOL:-512M}" --innodb-flush-log-at-trx-commit=2 \
		--skip-name-resolve --max-connections=200 >"$DIR/mysqld.log" 2>&1 &
	for _ in $(seq 1 300); do
		if client -e "SELECT 1" >/dev/null 2>&1; then
			break
		fi
		kill -0 $! 2>/dev/null || { cat "$DIR/mysqld.log"; die "MariaDB did not start"; }
		sleep 0.1
	done
	client -e "SELECT 1" >/dev/null 2>&1 || { cat "$DIR/mysqld.log"; die "MariaDB does not answer on $SOCK"; }
	# root without a password, from loopback only (name resolution is off:
	# TCP clients are 127.0.0.1).
	client -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
		CREATE DATABASE IF NOT EXISTS legacy CHARACTER SET latin1 COLLATE latin1_bin;"
	client legacy <"$HERE/schema.sql"
	log "MariaDB on 127.0.0.1:$PORT (data in $DIR)"
	dsn
}

down() {
	running || return 0
	local pid
	pid=$(cat "$PID")
	kill "$pid"
	for _ in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "MariaDB still runs 30s after SIGTERM; killing it"
	kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
up) up ;;
down) down ;;
status) if running; then echo "legacy-db: runs on 127.0.0.1:$PORT"; else echo "legacy-db: not running"; fi ;;
dsn) dsn ;;
*) die "usage: db.sh up|down|status|dsn" ;;
esac
