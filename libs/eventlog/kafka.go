package eventlog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/IBM/sarama"
)

// NewConfig is the sarama configuration every service starts from.
func NewConfig(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	// kfake needs 0.11+; 3.9 is what production runs.
	c.Version = sarama.V3_9_0_0
	c.ClientID = clientID
	c.Metadata.AllowAutoTopicCreation = false
	c.Consumer.IsolationLevel = sarama.ReadCommitted
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	// Consumers mark an offset only once its work is durable; the offset
	// manager commits marked offsets in the background and when a session
	// ends. Committing synchronously per batch instead stalls the consumer:
	// sarama holds the broker connection's lock for a whole fetch long-poll.
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = time.Second
	c.Consumer.MaxWaitTime = 250 * time.Millisecond
	c.Consumer.Return.Errors = true
	// kfake refuses sessions under 6 s; Kafka's default minimum is 6 s too.
	c.Consumer.Group.Session.Timeout = 10 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 2 * time.Second
	c.Consumer.Group.Rebalance.Timeout = 20 * time.Second
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	return c
}

// EnsureTopic creates the topic as d describes it if it does not exist,
// and says whether it did.
func EnsureTopic(ctx context.Context, brokers []string, cfg *sarama.Config, topic string, d *sarama.TopicDetail) (bool, error) {
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		return false, fmt.Errorf("connect to Kafka %v to create topic %s: %w", brokers, topic, err)
	}
	defer admin.Close()
	for {
		err = admin.CreateTopic(topic, d, false)
		if err == nil {
			return true, nil
		}
		if errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return false, nil
		}
		var terr *sarama.TopicError
		if errors.As(err, &terr) && errors.Is(terr.Err, sarama.ErrTopicAlreadyExists) {
			return false, nil
		}
		if !errors.Is(err, sarama.ErrRequestTimedOut) && !errors.Is(err, sarama.ErrNotController) {
			return false, fmt.Errorf("create topic %s (%d partitions): %w", topic, d.NumPartitions, err)
		}
		if err := Sleep(ctx, 200*time.Millisecond); err != nil {
			return false, err
		}
	}
}

// WaitForTopic blocks until the topic exists and returns its partition count.
func WaitForTopic(ctx context.Context, client sarama.Client, topic string) (int32, error) {
	for {
		if err := client.RefreshMetadata(topic); err == nil {
			ps, err := client.Partitions(topic)
			if err == nil && len(ps) > 0 {
				return int32(len(ps)), nil
			}
		}
		if err := Sleep(ctx, 250*time.Millisecond); err != nil {
			return 0, fmt.Errorf("waiting for topic %s to exist: %w", topic, err)
		}
	}
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}
