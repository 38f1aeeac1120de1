#!/bin/bash
# Creates Falcon's Kafka topics; safe to run again (--if-not-exists).
set -euo pipefail
b="${KAFKA_BOOTSTRAP:?}"
topics=/opt/kafka/bin/kafka-topics.sh
# Thread events: keyed by thread id; the partition count bounds write-api's
# scale-out (one writer per partition) and cannot shrink later.
"$topics" --bootstrap-server "$b" --create --if-not-exists --topic "${EVENTS_TOPIC:?}" \
  --partitions "${EVENTS_PARTITIONS:?}" --replication-factor "${REPLICATION_FACTOR:?}" \
  --config min.insync.replicas="${MIN_INSYNC_REPLICAS:?}" --config retention.ms=-1
# Thread snapshots for write-api takeovers: compacted, keyed by thread id.
"$topics" --bootstrap-server "$b" --create --if-not-exists --topic "${EVENTS_TOPIC}.snapshots" \
  --partitions "${EVENTS_PARTITIONS}" --replication-factor "${REPLICATION_FACTOR}" \
  --config min.insync.replicas="${MIN_INSYNC_REPLICAS}" --config cleanup.policy=compact
# Dead letters of the forwarder: one partition keeps their order.
"$topics" --bootstrap-server "$b" --create --if-not-exists --topic "${EVENTS_TOPIC}.dead-letters" \
  --partitions 1 --replication-factor "${REPLICATION_FACTOR}" \
  --config min.insync.replicas="${MIN_INSYNC_REPLICAS}" --config retention.ms=-1
"$topics" --bootstrap-server "$b" --describe --topic "${EVENTS_TOPIC}"
