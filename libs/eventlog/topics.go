package eventlog

import (
	"context"
	"strconv"

	"github.com/IBM/sarama"
)

// Falcon's topics for an events topic T:
//
//   - T, the thread events, keyed by thread id: the system of record, kept
//     forever; its partition count bounds write-api's scale-out (one writer
//     per partition) and cannot shrink.
//   - T.snapshots, write-api's thread snapshots for takeovers: compacted,
//     keyed by thread id, one partition per events partition.
//   - T.dead-letters, the forwarder's dead letters: one partition keeps
//     their order; kept forever.
//
// write-api creates the first two and the forwarder the third when they run
// with --create-topics; `falcon topics-init` creates all three where
// operators own topics. Each uses these definitions.

// TopicLayout is how many partitions and replicas the topics get.
type TopicLayout struct {
	Partitions  int32
	Replication int16
	// MinInsync is min.insync.replicas; 0 leaves the broker's default.
	MinInsync int
}

// DeadLettersTopic is the name of the dead-letter topic for an events topic.
func DeadLettersTopic(events string) string { return events + ".dead-letters" }

func (l TopicLayout) configs(extra map[string]string) map[string]*string {
	out := map[string]*string{}
	for k, v := range extra {
		out[k] = &v
	}
	if l.MinInsync > 0 {
		v := strconv.Itoa(l.MinInsync)
		out["min.insync.replicas"] = &v
	}
	return out
}

// EventsTopic is the definition of the events topic.
func (l TopicLayout) EventsTopic() *sarama.TopicDetail {
	return &sarama.TopicDetail{NumPartitions: l.Partitions, ReplicationFactor: l.Replication,
		ConfigEntries: l.configs(map[string]string{"retention.ms": "-1"})}
}

// SnapshotsTopic is the definition of the snapshots topic.
func (l TopicLayout) SnapshotsTopic() *sarama.TopicDetail {
	return &sarama.TopicDetail{NumPartitions: l.Partitions, ReplicationFactor: l.Replication,
		ConfigEntries: l.configs(map[string]string{"cleanup.policy": "compact"})}
}

// DeadLettersTopic is the definition of the dead-letter topic.
func (l TopicLayout) DeadLettersTopic() *sarama.TopicDetail {
	return &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: l.Replication,
		ConfigEntries: l.configs(map[string]string{"retention.ms": "-1"})}
}

// EnsureTopics creates every topic of details that does not exist yet, and
// returns the ones it created.
func EnsureTopics(ctx context.Context, k *Config, details map[string]*sarama.TopicDetail) ([]string, error) {
	sc, err := k.Sarama("falcon-topics")
	if err != nil {
		return nil, err
	}
	var created []string
	for name, d := range details {
		made, err := EnsureTopic(ctx, k.Brokers, sc, name, d)
		if err != nil {
			return created, err
		}
		if made {
			created = append(created, name)
		}
	}
	return created, nil
}
