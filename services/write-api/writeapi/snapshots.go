package writeapi

import (
	"context"
	"fmt"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
)

// Snapshots: every SnapshotEvery events a writer writes, in one transaction
// of its partition's producer (so a fenced writer cannot write any), the
// state of each thread changed since the last time, then a checkpoint: the
// events offset from which a new owner must replay. The snapshots topic is
// compacted and keyed by thread id; its partition p holds the snapshots of
// events partition p.

func (w *writer) snapshotsEnabled() bool { return w.cfg.SnapshotEvery > 0 }

// loadSnapshots reads the partition's snapshots and checkpoint. Any record
// it cannot read makes it give them all up: the caller replays from 0.
func (w *writer) loadSnapshots(ctx context.Context) (map[string]*domain.Thread, int64, error) {
	topic := eventlog.SnapshotsTopic(w.cfg.Topic)
	end, err := w.client.GetOffset(topic, w.partition, sarama.OffsetNewest)
	if err != nil {
		return nil, 0, fmt.Errorf("end offset of %s/%d: %w", topic, w.partition, err)
	}
	snaps := map[string]domain.Snapshot{}
	var checkpoint int64
	err = eventlog.ReadCommitted(ctx, w.client, topic, w.partition, 0, end, func(r eventlog.Record) error {
		if string(r.Key) == eventlog.CheckpointKey {
			off, err := eventlog.DecodeCheckpoint(r.Value)
			if err != nil {
				return fmt.Errorf("checkpoint at offset %d: %w", r.Offset, err)
			}
			checkpoint = off
			return nil
		}
		if r.Value == nil {
			return nil // the seal's aborted record, or a tombstone
		}
		s, err := eventlog.DecodeSnapshot(r.Value)
		if err != nil {
			return fmt.Errorf("snapshot at offset %d: %w", r.Offset, err)
		}
		snaps[s.ID] = s
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	threads := make(map[string]*domain.Thread, len(snaps))
	for id, s := range snaps {
		t, err := domain.Restore(s)
		if err != nil {
			return nil, 0, err
		}
		threads[id] = t
	}
	return threads, checkpoint, nil
}

// snapshot writes the changed threads and a checkpoint at w.next, in a
// transaction. A failure is logged and retried at the next interval, except
// fencing, which ends the writer.
func (w *writer) snapshot() error {
	topic := eventlog.SnapshotsTopic(w.cfg.Topic)
	msgs := make([]*sarama.ProducerMessage, 0, len(w.dirty)+1)
	for id := range w.dirty {
		b, err := eventlog.EncodeSnapshot(w.threads[id].Snapshot())
		if err != nil {
			return err
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: w.partition, Key: sarama.StringEncoder(id), Value: sarama.ByteEncoder(b)})
	}
	cb, err := eventlog.EncodeCheckpoint(w.next)
	if err != nil {
		return err
	}
	msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: w.partition, Key: sarama.StringEncoder(eventlog.CheckpointKey), Value: sarama.ByteEncoder(cb)})
	if err := w.append(msgs); err != nil {
		return err
	}
	w.metrics.snapshots.Add(float64(len(msgs) - 1))
	w.log.Debug("snapshot written", zap.Int("threads", len(msgs)-1), zap.Int64("checkpoint", w.next))
	w.dirty = map[string]bool{}
	w.sinceSnapshot = 0
	return nil
}
