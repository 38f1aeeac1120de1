package setup

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/retry"
)

// TopicsConfig is topics-init's configuration block.
type TopicsConfig struct {
	Kafka       eventlog.Config
	Partitions  int
	Replication int
	MinInsync   int
	Timeout     time.Duration
}

// RegisterFlags adds topics-init's flags to fs with their defaults.
func (c *TopicsConfig) RegisterFlags(fs *flag.FlagSet) {
	c.Kafka.RegisterFlags(fs)
	fs.IntVar(&c.Partitions, "partitions", 12, "partitions of the events and snapshots topics (bounds write-api's scale-out; cannot shrink)")
	fs.IntVar(&c.Replication, "replication-factor", 1, "replicas of every topic")
	fs.IntVar(&c.MinInsync, "min-insync-replicas", 0, "min.insync.replicas of every topic (0: the broker's default)")
	fs.DurationVar(&c.Timeout, "timeout", 2*time.Minute, "how long to keep trying while Kafka is unreachable or starting")
}

// Validate checks the configuration before anything connects.
func (c *TopicsConfig) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	switch {
	case c.Partitions < 1:
		return errors.New("--partitions must be at least 1")
	case c.Replication < 1:
		return errors.New("--replication-factor must be at least 1")
	case c.MinInsync < 0 || c.MinInsync > c.Replication:
		return fmt.Errorf("--min-insync-replicas=%d must be between 0 and --replication-factor (%d)", c.MinInsync, c.Replication)
	}
	return nil
}

// FalconTopics are the events, snapshots and dead-letter topics of an events
// topic, as the layout says.
func FalconTopics(topic string, l eventlog.TopicLayout) map[string]*sarama.TopicDetail {
	return map[string]*sarama.TopicDetail{
		topic:                            l.EventsTopic(),
		eventlog.SnapshotsTopic(topic):   l.SnapshotsTopic(),
		eventlog.DeadLettersTopic(topic): l.DeadLettersTopic(),
	}
}

// Topics creates Falcon's topics that do not exist yet, retrying until
// Kafka takes them or the timeout passes, and writes what it did to out.
// Topics that exist are left as they are.
func Topics(ctx context.Context, cfg TopicsConfig, log *zap.Logger, out io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	topics := FalconTopics(cfg.Kafka.Topic, eventlog.TopicLayout{Partitions: int32(cfg.Partitions),
		Replication: int16(cfg.Replication), MinInsync: cfg.MinInsync})
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var created []string
	err := retry.Until(ctx, log, "creating the topics on Kafka at "+cfg.Kafka.Brokers.String(), retry.Default, nil, func(ctx context.Context) error {
		made, err := eventlog.EnsureTopics(ctx, &cfg.Kafka, topics)
		created = append(created, made...)
		return err
	})
	sort.Strings(created)
	for _, t := range created {
		fmt.Fprintln(out, "created topic", t)
	}
	if err != nil {
		return fmt.Errorf("topics on Kafka at %s: %w", cfg.Kafka.Brokers.String(), err)
	}
	fmt.Fprintf(out, "topics ready on %s: %d created, %d already there\n", cfg.Kafka.Brokers.String(), len(created), len(topics)-len(created))
	return nil
}
