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
// snapshots partition the latest complete set of thread snapshots begins. A
// new owner reads only that set and what followed it, not the whole topic,
// however far behind the log cleaner is.

// loadSnapshots reads the partition's latest complete set of snapshots and
// those after it, and the last checkpoint. Any record it cannot read makes
// it give them all up: the caller replays from 0.
func (l *TxnLog) loadSnapshots(ctx context.Context) ([]domain.Snapshot, Checkpoint, error) {
	topic, p := SnapshotsTopic(l.cfg.Kafka.Topic), l.cfg.Partition
	var none Checkpoint
	end, err := l.client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return nil, none, fmt.Errorf("end offset of %s/%d: %w", topic, p, err)
	}
	// The last checkpoint says where the latest complete set begins.
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
		return nil, none, err
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
		return nil, none, err
	}
	return snaps, checkpoint, nil
}

// WriteSnapshots commits snapshots of threads and a checkpoint at next (the
// events offset a new owner replays from) in one transaction. complete says
// snaps hold every thread of the partition: a new owner then reads nothing
// older.
func (l *TxnLog) WriteSnapshots(_ context.Context, snaps []domain.Snapshot, next int64, complete bool) error {
	if l.prod == nil {
		return errors.New("snapshots before Load")
	}
	topic := SnapshotsTopic(l.cfg.Kafka.Topic)
	msgs := make([]*sarama.ProducerMessage, 0, len(snaps))
	for _, s := range snaps {
		b, err := EncodeSnapshot(s)
		if err != nil {
			return err
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: l.cfg.Partition, Key: sarama.StringEncoder(s.ID), Value: sarama.ByteEncoder(b)})
	}
	// The checkpoint's FullFrom is the first offset of this transaction when
	// the set is complete; known only once sent, so the checkpoint goes in a
	// second send within the same transaction.
	if err := l.prod.BeginTxn(); err != nil {
		return AbortTxn(l.prod, err)
	}
	if err := l.prod.SendMessages(msgs); err != nil {
		return AbortTxn(l.prod, err)
	}
	fullFrom := l.fullFrom
	if complete && len(msgs) > 0 {
		fullFrom = msgs[0].Offset
		for _, m := range msgs {
			fullFrom = min(fullFrom, m.Offset)
		}
	}
	cb, err := EncodeCheckpoint(Checkpoint{NextOffset: next, FullFrom: max(fullFrom, 0)})
	if err != nil {
		return AbortTxn(l.prod, err)
	}
	if _, _, err := l.prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: l.cfg.Partition,
		Key: sarama.StringEncoder(CheckpointKey), Value: sarama.ByteEncoder(cb)}); err != nil {
		return AbortTxn(l.prod, err)
	}
	if err := l.prod.CommitTxn(); err != nil {
		return AbortTxn(l.prod, err)
	}
	l.fullFrom = max(fullFrom, 0)
	return nil
}
