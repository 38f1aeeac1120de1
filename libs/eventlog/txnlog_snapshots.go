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

// SnapshotPart says where a call of WriteSnapshots stands in a round of
// snapshots. A round is written in parts, each its own transaction, so that
// the partition's writer takes commands in between; only its last part
// writes the checkpoint that makes the round count (the others repeat the
// one in force: a new owner looks for it in the last checkpointWindow
// records).
type SnapshotPart struct {
	// Complete says the round holds every thread of the partition: a new
	// owner then reads nothing older than the round's first part.
	Complete bool
	// First says the part begins the round.
	First bool
	// Last says the part ends the round with a checkpoint at Next, the
	// events offset a new owner replays from: where the round began, since
	// a thread's snapshot may have been taken at any time during it.
	Last bool
	Next int64
}

// WriteSnapshots commits snapshots of threads in one transaction, with the
// round's checkpoint if part is its last.
func (l *TxnLog) WriteSnapshots(_ context.Context, snaps []domain.Snapshot, part SnapshotPart) error {
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
	if part.First {
		l.roundFrom = -1
	}
	if err := l.prod.BeginTxn(); err != nil {
		return AbortTxn(l.prod, err)
	}
	if len(msgs) > 0 {
		if err := l.prod.SendMessages(msgs); err != nil {
			return AbortTxn(l.prod, err)
		}
	}
	// A complete round's checkpoint names the first offset of its first
	// part, known only once sent.
	if part.Complete && l.roundFrom < 0 {
		for _, m := range msgs {
			if l.roundFrom < 0 || m.Offset < l.roundFrom {
				l.roundFrom = m.Offset
			}
		}
	}
	checkpoint := l.last
	if part.Last {
		var fullFrom int64
		if l.last != nil {
			fullFrom = l.last.FullFrom
		}
		if part.Complete && l.roundFrom >= 0 {
			fullFrom = l.roundFrom
		}
		checkpoint = &Checkpoint{NextOffset: part.Next, FullFrom: fullFrom}
	}
	if checkpoint != nil {
		cb, err := EncodeCheckpoint(*checkpoint)
		if err != nil {
			return AbortTxn(l.prod, err)
		}
		if _, _, err := l.prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: l.cfg.Partition,
			Key: sarama.StringEncoder(CheckpointKey), Value: sarama.ByteEncoder(cb)}); err != nil {
			return AbortTxn(l.prod, err)
		}
	}
	if err := l.prod.CommitTxn(); err != nil {
		return AbortTxn(l.prod, err)
	}
	if part.Last {
		l.last = checkpoint
	}
	return nil
}
