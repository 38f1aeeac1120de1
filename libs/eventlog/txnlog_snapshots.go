package eventlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/falcon-chat/falcon/libs/domain"
)

// Snapshots on Kafka: the snapshots topic is compacted and keyed by thread
// id; its partition p holds the snapshots of events partition p. A writer
// writes, in one transaction of its partition's producer (so a fenced writer
// cannot write any), the snapshots of some threads and then a checkpoint:
// the events offset from which a new owner replays, and where in the
// snapshots partition a new owner starts reading: the writer keeps every
// thread's latest snapshot at or after it. A new owner reads from there, not
// the whole topic, however far behind the log cleaner is.

// loadSnapshots reads the latest snapshot of each thread from where the
// last checkpoint says, that checkpoint, and where the snapshots partition
// ends (0 if unknown). Any record it cannot read makes it give them all up:
// the caller replays from 0.
func (l *TxnLog) loadSnapshots(ctx context.Context) ([]domain.Snapshot, Checkpoint, int64, error) {
	topic, p := SnapshotsTopic(l.cfg.Kafka.Topic), l.cfg.Partition
	var none Checkpoint
	end, err := l.client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return nil, none, 0, fmt.Errorf("end offset of %s/%d: %w", topic, p, err)
	}
	// The last checkpoint says where to read from.
	last, found := none, false
	err = ReadCommitted(ctx, l.client, topic, p, max(0, end-checkpointWindow), end, func(r Record) error {
		if string(r.Key) != CheckpointKey {
			return nil
		}
		c, err := DecodeCheckpoint(r.Value)
		if err != nil {
			return fmt.Errorf("checkpoint at offset %d: %w", r.Offset, err)
		}
		last, found = c, true
		return nil
	})
	if err != nil {
		return nil, none, end, err
	}
	from := int64(0)
	if found {
		from = last.FullFrom
	}
	latest := map[string]int{}
	var snaps []domain.Snapshot
	var checkpoint Checkpoint
	err = ReadCommitted(ctx, l.client, topic, p, from, end, func(r Record) error {
		if string(r.Key) == CheckpointKey {
			c, err := DecodeCheckpoint(r.Value)
			if err != nil {
				return fmt.Errorf("checkpoint at offset %d: %w", r.Offset, err)
			}
			checkpoint = c
			return nil
		}
		if r.Value == nil {
			return nil // the seal's aborted record, or a tombstone
		}
		s, err := DecodeSnapshot(r.Value)
		if err != nil {
			return fmt.Errorf("snapshot at offset %d: %w", r.Offset, err)
		}
		if i, ok := latest[s.ID]; ok {
			snaps[i] = s
		} else {
			latest[s.ID] = len(snaps)
			snaps = append(snaps, s)
		}
		return nil
	})
	if err != nil {
		return nil, none, end, err
	}
	return snaps, checkpoint, end, nil
}

// SnapshotPart says where a call of WriteSnapshots stands in a round of
// snapshots. A round is written in parts, each its own transaction, so that
// the partition's writer takes commands in between; only its last part
// writes the checkpoint that makes the round count (the others repeat the
// one in force: a new owner looks for it in the last checkpointWindow
// records).
type SnapshotPart struct {
	// Last says the part ends the round with a checkpoint at Next, the
	// events offset a new owner replays from (where the round began, since
	// a thread's snapshot may have been taken at any time during it), and
	// FullFrom, the offset in the snapshots partition from which it reads
	// (at or before every thread's latest snapshot, this round's included).
	Last     bool
	Next     int64
	FullFrom int64
}

// WriteSnapshots commits snapshots of threads in one transaction, with the
// round's checkpoint if part is its last, and says where the snapshots
// partition ends after them: the next part begins at or after it.
func (l *TxnLog) WriteSnapshots(_ context.Context, snaps []domain.Snapshot, part SnapshotPart) (int64, error) {
	if l.prod == nil {
		return 0, errors.New("snapshots before Load")
	}
	topic := SnapshotsTopic(l.cfg.Kafka.Topic)
	msgs := make([]*sarama.ProducerMessage, 0, len(snaps)+1)
	for _, s := range snaps {
		b, err := EncodeSnapshot(s)
		if err != nil {
			return 0, err
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: l.cfg.Partition, Key: sarama.StringEncoder(s.ID), Value: sarama.ByteEncoder(b)})
	}
	checkpoint := l.last
	if part.Last {
		checkpoint = &Checkpoint{NextOffset: part.Next, FullFrom: part.FullFrom}
	}
	if checkpoint != nil {
		cb, err := EncodeCheckpoint(*checkpoint)
		if err != nil {
			return 0, err
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: l.cfg.Partition,
			Key: sarama.StringEncoder(CheckpointKey), Value: sarama.ByteEncoder(cb)})
	}
	if err := l.prod.BeginTxn(); err != nil {
		return 0, AbortTxn(l.prod, err)
	}
	if len(msgs) > 0 {
		if err := l.prod.SendMessages(msgs); err != nil {
			return 0, AbortTxn(l.prod, err)
		}
	}
	if err := l.prod.CommitTxn(); err != nil {
		return 0, AbortTxn(l.prod, err)
	}
	if part.Last {
		l.last = checkpoint
	}
	var end int64
	for _, m := range msgs {
		end = max(end, m.Offset+1)
	}
	return end, nil
}
