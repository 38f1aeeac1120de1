#!/usr/bin/env bash
# Real Apache Kafka (KRaft, one node) and real Apache HBase (standalone, with
# its Thrift2 gateway) on loopback, assembled from Maven Central jars: what
# `make real-up`, `make real-down` and `make test-real` run.
#
#   real.sh up                 start Kafka, HBase and the Thrift2 gateway in the background, wait, print the addresses
#   real.sh down               stop what `up` started (and nothing else)
#   real.sh status             say what runs
#   real.sh test CMD...        run CMD with FALCON_TEST_KAFKA and FALCON_TEST_HBASE set, starting
#                              the servers first if they do not run (and stopping them after)
#   real.sh fetch              download the jars (cached under ~/.cache/falcon/real)
#   real.sh kafka-run DIR PORT [CONTROLLER_PORT]
#                              one Kafka node in the foreground with its data in DIR (tests use it
#                              to kill and restart a broker of their own)
#   real.sh hbase-run DIR      HBase standalone in the foreground, data in DIR
#   real.sh thrift-run DIR PORT
#                              HBase's Thrift2 gateway in the foreground, for the HBase of DIR
#
# Ports: KAFKA_PORT (29092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), HBASE_THRIFT_PORT (29090),
# HBASE_ZK_PORT (29181), HBASE_MASTER_PORT (29160), HBASE_REGIONSERVER_PORT (29162).
# Data: REAL_DIR (.falcon/real). Jars: FALCON_REAL_CACHE (~/.cache/falcon/real).
# Needs Java 17 and Maven; JAVA_HOME is honoured.
set -euo pipefail
# The Go toolchain of the project (go.work): fetched through the module
# proxy when the machine's is older.
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KAFKA_PORT=${KAFKA_PORT:-29092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
HBASE_THRIFT_PORT=${HBASE_THRIFT_PORT:-29090}
HBASE_ZK_PORT=${HBASE_ZK_PORT:-29181}
HBASE_MASTER_PORT=${HBASE_MASTER_PORT:-29160}
HBASE_REGIONSERVER_PORT=${HBASE_REGIONSERVER_PORT:-29162}
REAL_DIR=${REAL_DIR:-$ROOT/.falcon/real}
CACHE=${FALCON_REAL_CACHE:-$HOME/.cache/falcon/real}
FALCON=${FALCON_BIN:-$ROOT/bin/falcon}
WAIT=${REAL_WAIT:-5m}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

version_of() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$2"; }
KAFKA_VERSION=$(version_of kafka.version "$HERE/kafka-pom.xml")
HBASE_VERSION=$(version_of hbase.version "$HERE/hbase-pom.xml")
KAFKA_JARS=$CACHE/kafka-$KAFKA_VERSION
HBASE_JARS=$CACHE/hbase-$HBASE_VERSION

log() { echo "real: $*" >&2; }
die() { log "$*"; exit 1; }

# fetch_jars POM DIR copies the pom's dependencies into DIR once; a lock keeps
# concurrent callers (parallel tests) from downloading twice.
fetch_jars() {
	local pom=$1 dir=$2
	[ -f "$dir/.complete" ] && return 0
	command -v mvn >/dev/null || die "Maven (mvn) is needed to download $(basename "$dir") from Maven Central"
	mkdir -p "$CACHE"
	(
		flock 9
		[ -f "$dir/.complete" ] && exit 0
		log "downloading $(basename "$dir") and its dependencies from Maven Central"
		rm -rf "$dir.tmp"
		if ! mvn -q -B -Dstyle.color=never -f "$pom" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
			-DincludeScope=runtime -DoutputDirectory="$dir.tmp" >"$CACHE/mvn.log" 2>&1; then
			cat "$CACHE/mvn.log" >&2
			die "Maven could not download $(basename "$dir")"
		fi
		rm -rf "$dir" && mv "$dir.tmp" "$dir" && touch "$dir/.complete"
	) 9>"$CACHE/.lock"
}

fetch() {
	fetch_jars "$HERE/kafka-pom.xml" "$KAFKA_JARS"
	fetch_jars "$HERE/hbase-pom.xml" "$HBASE_JARS"
}

# Java 17 refuses the reflective access HBase and its shaded Netty use
# unless these packages are opened; without them HBase falls back to slower
# paths and logs InaccessibleObjectException at every start.
HBASE_JVM_FLAGS=(
	-XX:+UseG1GC -Djava.net.preferIPv4Stack=true -Djava.awt.headless=true
	-Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true
	--add-opens=java.base/java.lang=ALL-UNNAMED
	--add-opens=java.base/java.lang.reflect=ALL-UNNAMED
	--add-opens=java.base/java.nio=ALL-UNNAMED
	--add-opens=java.base/sun.nio.ch=ALL-UNNAMED
	--add-opens=java.base/java.util=ALL-UNNAMED
	--add-opens=java.base/java.util.concurrent=ALL-UNNAMED
	--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
	--add-opens=java.base/java.io=ALL-UNNAMED
	--add-opens=java.base/java.net=ALL-UNNAMED
	--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED
	--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED
)

kafka_run() {
	local dir=${1:?kafka-run DIR PORT [CONTROLLER_PORT]} port=${2:?kafka-run DIR PORT [CONTROLLER_PORT]}
	local cport=${3:-$((port + 1))}
	fetch_jars "$HERE/kafka-pom.xml" "$KAFKA_JARS"
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	cat >"$dir/server.properties" <<EOF
# One node that is broker and controller (KRaft), on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
num.partitions=1
# Falcon creates its topics itself (write-api --create-topics); nothing else may.
auto.create.topics.enable=false
# Tests start groups often; production keeps the 3 s default.
group.initial.rebalance.delay.ms=0
EOF
	cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
	if [ ! -f "$dir/data/meta.properties" ]; then
		local id
		id=$("$JAVA" -cp "$KAFKA_JARS/*" kafka.tools.StorageTool random-uuid)
		"$JAVA" -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$KAFKA_JARS/*" \
			kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" >&2
	fi
	exec "$JAVA" -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$KAFKA_JARS/*" kafka.Kafka "$dir/server.properties"
}

hbase_conf() {
	local dir=$1
	mkdir -p "$dir/conf"
	cat >"$dir/conf/hbase-site.xml" <<EOF
<?xml version="1.0"?>
<!-- Standalone HBase: master, region server and ZooKeeper in one JVM, on
     the local filesystem, every port on loopback. -->
<configuration>
  <property><name>hbase.cluster.distributed</name><value>false</value></property>
  <property><name>hbase.rootdir</name><value>file://$dir/hbase</value></property>
  <property><name>hbase.tmp.dir</name><value>$dir/tmp</value></property>
  <property><name>hbase.zookeeper.quorum</name><value>127.0.0.1</value></property>
  <property><name>hbase.zookeeper.property.clientPort</name><value>$HBASE_ZK_PORT</value></property>
  <property><name>hbase.zookeeper.property.dataDir</name><value>$dir/zookeeper</value></property>
  <!-- The local filesystem has no hflush/hsync capability checks to pass. -->
  <property><name>hbase.unsafe.stream.capability.enforce</name><value>false</value></property>
  <property><name>hbase.master.ipc.address</name><value>127.0.0.1</value></property>
  <property><name>hbase.master.hostname</name><value>127.0.0.1</value></property>
  <property><name>hbase.master.port</name><value>$HBASE_MASTER_PORT</value></property>
  <property><name>hbase.master.info.port</name><value>-1</value></property>
  <property><name>hbase.regionserver.ipc.address</name><value>127.0.0.1</value></property>
  <property><name>hbase.regionserver.hostname</name><value>127.0.0.1</value></property>
  <property><name>hbase.regionserver.port</name><value>$HBASE_REGIONSERVER_PORT</value></property>
  <property><name>hbase.regionserver.info.port</name><value>-1</value></property>
  <property><name>hbase.thrift.info.port</name><value>-1</value></property>
</configuration>
EOF
	cat >"$dir/conf/log4j.properties" <<'EOF'
log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p [%t] %c{2}: %m%n
log4j.logger.org.apache.hadoop.metrics2=WARN
log4j.logger.org.apache.zookeeper=WARN
EOF
}

hbase_run() {
	local dir=${1:?hbase-run DIR}
	fetch_jars "$HERE/hbase-pom.xml" "$HBASE_JARS"
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
	hbase_conf "$dir"
	exec "$JAVA" -Xms256m -Xmx1g "${HBASE_JVM_FLAGS[@]}" -Dlog4j.configuration="file:$dir/conf/log4j.properties" \
		-cp "$dir/conf:$HBASE_JARS/*" org.apache.hadoop.hbase.master.HMaster start
}

thrift_run() {
	local dir=${1:?thrift-run DIR PORT} port=${2:?thrift-run DIR PORT}
	fetch_jars "$HERE/hbase-pom.xml" "$HBASE_JARS"
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
	hbase_conf "$dir"
	# The default server: a bounded thread pool, buffered transport, binary
	# protocol (what hbase+thrift:// URLs use unless transport=framed).
	exec "$JAVA" -Xms128m -Xmx512m "${HBASE_JVM_FLAGS[@]}" -Dlog4j.configuration="file:$dir/conf/log4j.properties" \
		-cp "$dir/conf:$HBASE_JARS/*" org.apache.hadoop.hbase.thrift2.ThriftServer -b 127.0.0.1 -p "$port" --infoport -1 start
}

# ours PIDFILE succeeds when the pid file names a live process of this data
# folder (a pid the system reused for something else is not ours).
ours() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$REAL_DIR"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME PORT ARGS... runs this script's NAME-run in the background.
start() {
	local name=$1 port=$2
	shift 2
	local pidf=$REAL_DIR/$name.pid
	if ours "$pidf"; then
		log "$name already runs (pid $(cat "$pidf"))"
		return 0
	fi
	port_taken "$port" && die "port $port is taken by another program: free it or set the port variable (see scripts/real/real.sh)"
	mkdir -p "$REAL_DIR"
	nohup "$HERE/real.sh" "$name-run" "$@" >"$REAL_DIR/$name.log" 2>&1 &
	echo $! >"$pidf"
	log "$name started (pid $!, log $REAL_DIR/$name.log)"
}

# stop NAME SECONDS: SIGTERM, then SIGKILL after SECONDS. HBase standalone
# runs its shutdown hooks (regions closed, WAL synced) in about 2 s and then
# never exits: ZooKeeper's SessionTracker thread is not a daemon.
stop() {
	local name=$1 wait=$2 pidf=$REAL_DIR/$1.pid
	if ! ours "$pidf"; then
		rm -f "$pidf"
		return 0
	fi
	local pid
	pid=$(cat "$pidf")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 $((wait * 2))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name still runs ${wait}s after SIGTERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidf"
	log "$name stopped"
}

running() { ours "$REAL_DIR/kafka.pid" && ours "$REAL_DIR/hbase.pid" && ours "$REAL_DIR/thrift.pid"; }

up() {
	fetch
	[ -x "$FALCON" ] || die "$FALCON is missing: run 'make build' first (it answers the readiness probes)"
	start kafka "$KAFKA_PORT" "$REAL_DIR/kafka" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
	start hbase "$HBASE_ZK_PORT" "$REAL_DIR/hbase"
	start thrift "$HBASE_THRIFT_PORT" "$REAL_DIR/thrift" "$HBASE_THRIFT_PORT"
	if ! "$FALCON" probe --kafka "127.0.0.1:$KAFKA_PORT" --hbase "127.0.0.1:$HBASE_THRIFT_PORT" --timeout "$WAIT"; then
		for n in kafka hbase thrift; do
			log "last lines of $REAL_DIR/$n.log:"
			tail -n 40 "$REAL_DIR/$n.log" >&2 || true
		done
		die "the servers did not become ready within $WAIT"
	fi
	echo "Kafka:  127.0.0.1:$KAFKA_PORT  (Apache Kafka $KAFKA_VERSION, KRaft, one node)"
	echo "HBase:  hbase+thrift://127.0.0.1:$HBASE_THRIFT_PORT  (Apache HBase $HBASE_VERSION standalone, Thrift2 gateway)"
	echo "Data:   $REAL_DIR   Stop: make real-down"
}

down() {
	stop thrift 20
	stop hbase 15
	stop kafka 60
}

status() {
	local n
	for n in kafka hbase thrift; do
		if ours "$REAL_DIR/$n.pid"; then echo "$n: running (pid $(cat "$REAL_DIR/$n.pid"))"; else echo "$n: stopped"; fi
	done
}

run_test() {
	local started=0 rc=0
	if ! running; then
		up
		started=1
	fi
	FALCON_TEST_KAFKA=127.0.0.1:$KAFKA_PORT FALCON_TEST_HBASE=127.0.0.1:$HBASE_THRIFT_PORT \
		FALCON_REAL_SCRIPT="$HERE/real.sh" "$@" || rc=$?
	if [ "$started" = 1 ]; then down; fi
	return "$rc"
}

cmd=${1:-}
shift || true
case "$cmd" in
up) up ;;
down) down ;;
status) status ;;
fetch) fetch ;;
test) run_test "$@" ;;
kafka-run) kafka_run "$@" ;;
hbase-run) hbase_run "$@" ;;
thrift-run) thrift_run "$@" ;;
*) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
