package stream

import (
	"context"
	"sync"

	"github.com/IBM/sarama"

	"github.com/falcon-chat/falcon/libs/eventlog"
)

// Source is the event log the hub follows.
type Source interface {
	// Bounds returns, per partition, the oldest offset and the offset
	// after the newest record.
	Bounds(ctx context.Context) (oldest, next map[int32]int64, err error)
	// Follow reads every partition from its offset in from until ctx ends.
	Follow(ctx context.Context, from map[int32]int64, f eventlog.Follower) error
	// Read calls fn with each committed record of partition p from offset
	// from up to end.
	Read(ctx context.Context, p int32, from, end int64, fn func(eventlog.Record) error) error
}

// Kafka is the events topic, read_committed; it connects on first use and
// again after a failure.
type Kafka struct {
	cfg      eventlog.Config
	clientID string

	mu     sync.Mutex
	client sarama.Client
}

// NewKafka reads the events topic of cfg.
func NewKafka(cfg eventlog.Config, clientID string) *Kafka {
	return &Kafka{cfg: cfg, clientID: clientID}
}

func (k *Kafka) connect(ctx context.Context) (sarama.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.client != nil {
		return k.client, nil
	}
	c, err := k.cfg.Client(k.clientID)
	if err != nil {
		return nil, err
	}
	if _, err := eventlog.WaitForTopic(ctx, c, k.cfg.Topic); err != nil {
		_ = c.Close()
		return nil, err
	}
	k.client = c
	return c, nil
}

// Bounds implements Source.
func (k *Kafka) Bounds(ctx context.Context) (oldest, next map[int32]int64, err error) {
	c, err := k.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	return eventlog.Bounds(c, k.cfg.Topic)
}

// Follow implements Source.
func (k *Kafka) Follow(ctx context.Context, from map[int32]int64, f eventlog.Follower) error {
	c, err := k.connect(ctx)
	if err != nil {
		return err
	}
	return eventlog.Follow(ctx, c, k.cfg.Topic, from, f)
}

// Read implements Source.
func (k *Kafka) Read(ctx context.Context, p int32, from, end int64, fn func(eventlog.Record) error) error {
	c, err := k.connect(ctx)
	if err != nil {
		return err
	}
	return eventlog.ReadCommitted(ctx, c, k.cfg.Topic, p, from, end, fn)
}

// Close closes the connection.
func (k *Kafka) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.client != nil {
		_ = k.client.Close()
		k.client = nil
	}
}
