package forwarder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/eventlog"
)

// Kinds of records on the dead-letter topic.
const (
	KindDeadLetter = "dead-letter"
	// KindRelease says replay-dlq delivered a thread's dead letters up to
	// UpToOffset: the thread is no longer held.
	KindRelease = "release"
)

// DeadLetter is one record of the dead-letter topic (JSON, keyed by thread
// id, one partition so the whole topic keeps its order).
type DeadLetter struct {
	Kind            string    `json:"kind"`
	ThreadID        string    `json:"threadId"`
	EventID         string    `json:"eventId,omitempty"`
	EventType       string    `json:"eventType,omitempty"`
	Version         uint64    `json:"version,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	Status          int       `json:"status,omitempty"`
	Attempts        int       `json:"attempts,omitempty"`
	At              time.Time `json:"at"`
	SourceTopic     string    `json:"sourceTopic,omitempty"`
	SourcePartition int32     `json:"sourcePartition,omitempty"`
	SourceOffset    int64     `json:"sourceOffset,omitempty"`
	// Envelope is the event record's value as it was on the events topic.
	Envelope   []byte `json:"envelope,omitempty"`
	UpToOffset int64  `json:"upToOffset,omitempty"`
}

// deadLetters writes dead letters and knows which threads are held: those
// with a dead letter not yet released. The dead-letter topic is the truth;
// the held set is rebuilt from it at start and kept in step by following it.
type deadLetters struct {
	topic    string
	producer sarama.SyncProducer
	log      *zap.Logger

	mu   sync.Mutex
	held map[string]int64 // thread id -> offset of its last dead letter
}

func newDeadLetters(topic string, producer sarama.SyncProducer, log *zap.Logger) *deadLetters {
	return &deadLetters{topic: topic, producer: producer, log: log, held: map[string]int64{}}
}

// deadLetterProducer is an idempotent producer that waits for every replica.
func deadLetterProducer(kafka *eventlog.Config) (sarama.SyncProducer, error) {
	c, err := kafka.Sarama("falcon-sparrow-forwarder")
	if err != nil {
		return nil, err
	}
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer(kafka.Brokers, c)
	if err != nil {
		return nil, fmt.Errorf("dead-letter producer on Kafka at %s: %w", kafka.Brokers.String(), err)
	}
	return p, nil
}

// write appends a record and returns its offset; it is durable on return.
func (d *deadLetters) write(dl DeadLetter) (int64, error) {
	b, err := json.Marshal(dl)
	if err != nil {
		return 0, err
	}
	_, off, err := d.producer.SendMessage(&sarama.ProducerMessage{Topic: d.topic, Partition: 0,
		Key: sarama.StringEncoder(dl.ThreadID), Value: sarama.ByteEncoder(b)})
	if err != nil {
		return 0, fmt.Errorf("write %s for thread %s to %s: %w", dl.Kind, dl.ThreadID, d.topic, err)
	}
	if dl.Kind == KindDeadLetter {
		d.observe(dl, off)
	}
	return off, nil
}

func (d *deadLetters) observe(dl DeadLetter, offset int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch dl.Kind {
	case KindDeadLetter:
		if offset > d.held[dl.ThreadID] || d.held[dl.ThreadID] == 0 {
			d.held[dl.ThreadID] = offset
		}
	case KindRelease:
		if last, ok := d.held[dl.ThreadID]; ok && last <= dl.UpToOffset {
			delete(d.held, dl.ThreadID)
		}
	}
}

func (d *deadLetters) isHeld(threadID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.held[threadID]
	return ok
}

func (d *deadLetters) heldCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.held)
}

// follow reads the dead-letter topic from its start and keeps the held set
// in step until ctx ends; caughtUp closes once it has read what was there
// when it started. It has its own client: sarama holds a broker
// connection for the whole of a fetch's long-poll, which would stall the
// event consumer sharing it.
func (d *deadLetters) follow(ctx context.Context, kafka *eventlog.Config, caughtUp chan<- struct{}) error {
	client, err := kafka.Client("falcon-sparrow-forwarder-dead-letters")
	if err != nil {
		return err
	}
	defer client.Close()
	end, err := client.GetOffset(d.topic, 0, sarama.OffsetNewest)
	if err != nil {
		return fmt.Errorf("end of %s: %w", d.topic, err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return err
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(d.topic, 0, sarama.OffsetOldest)
	if err != nil {
		return fmt.Errorf("follow %s: %w", d.topic, err)
	}
	defer pc.Close()
	signalled := false
	signal := func() {
		if !signalled {
			close(caughtUp)
			signalled = true
		}
	}
	if end == 0 {
		signal()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-pc.Messages():
			if !ok {
				return errors.New("dead-letter topic consumer stopped")
			}
			var dl DeadLetter
			if err := json.Unmarshal(m.Value, &dl); err != nil {
				d.log.Error("skipping unreadable dead-letter record", zap.Int64("offset", m.Offset), zap.Error(err))
			} else {
				d.observe(dl, m.Offset)
			}
			if m.Offset >= end-1 {
				signal()
			}
		}
	}
}
