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
// events offset from which a new owner replays, and where in the snapshots
// partition the latest complete set of thread snapshots begins. Every
// fullEvery-th time (and first after taking a partition over) the set is
// complete, so a new owner reads only that set and what followed it, not
// the whole topic, however far behind the log cleaner is. The snapshots
// topic is compacted and keyed by thread id; its partition p holds the
// snapshots of events partition p.

// fullEvery is how many checkpoints pass between complete sets.
const fullEvery = 8

// checkpointWindow is how many records from the end of the snapshots
// partition are searched for the last checkpoint.
const checkpointWindow = 20000

func (w *writer) snapshotsEnabled() bool { return w.cfg.SnapshotEvery > 0 }

// loadSnapshots reads the partition's latest complete set of snapshots and
// those after it, and the last checkpoint. Any record it cannot read makes
// it give them all up: the caller replays from 0.
func (w *writer) loadSnapshots(ctx context.Context) (map[string]*domain.Thread, eventlog.Checkpoint, error) {
	topic := eventlog.SnapshotsTopic(w.cfg.Topic)
	var none eventlog.Checkpoint
	end, err := w.client.GetOffset(topic, w.partition, sarama.OffsetNewest)
	if err != nil {
		return nil, none, fmt.Errorf("end offset of %s/%d: %w", topic, w.partition, err)
	}
	// The last checkpoint says where the latest complete set begins.
	last, found := none, false
	err = eventlog.ReadCommitted(ctx, w.client, topic, w.partition, max(0, end-checkpointWindow), end, func(r eventlog.Record) error {
		if string(r.Key) != eventlog.CheckpointKey {
			return nil
		}
		c, err := eventlog.DecodeCheckpoint(r.Value)
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
	snaps := map[string]domain.Snapshot{}
	var checkpoint eventlog.Checkpoint
	err = eventlog.ReadCommitted(ctx, w.client, topic, w.partition, from, end, func(r eventlog.Record) error {
		if string(r.Key) == eventlog.CheckpointKey {
			c, err := eventlog.DecodeCheckpoint(r.Value)
			if err != nil {
				return fmt.Errorf("checkpoint at offset %d: %w", r.Offset, err)
			}
			checkpoint = c
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
		return nil, none, err
	}
	threads := make(map[string]*domain.Thread, len(snaps))
	for id, s := range snaps {
		t, err := domain.Restore(s)
		if err != nil {
			return nil, none, err
		}
		threads[id] = t
	}
	return threads, checkpoint, nil
}

// snapshot writes the changed threads (all of them when a complete set is
// due) and a checkpoint at w.next, in a transaction.
func (w *writer) snapshot() error {
	topic := eventlog.SnapshotsTopic(w.cfg.Topic)
	full := w.fullFrom < 0 || w.checkpoints%fullEvery == fullEvery-1
	ids := w.dirty
	if full {
		ids = make(map[string]bool, len(w.threads))
		for id := range w.threads {
			ids[id] = true
		}
	}
	msgs := make([]*sarama.ProducerMessage, 0, len(ids)+1)
	for id := range ids {
		b, err := eventlog.EncodeSnapshot(w.threads[id].Snapshot())
		if err != nil {
			return err
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: w.partition, Key: sarama.StringEncoder(id), Value: sarama.ByteEncoder(b)})
	}
	// The checkpoint's full_from is the first offset of this transaction
	// when the set is complete; known only once sent, so the checkpoint
	// goes in a second send within the same transaction.
	if err := w.prod.BeginTxn(); err != nil {
		return w.abort(err)
	}
	if err := w.prod.SendMessages(msgs); err != nil {
		return w.abort(err)
	}
	fullFrom := w.fullFrom
	if full && len(msgs) > 0 {
		fullFrom = msgs[0].Offset
		for _, m := range msgs {
			fullFrom = min(fullFrom, m.Offset)
		}
	}
	cb, err := eventlog.EncodeCheckpoint(eventlog.Checkpoint{NextOffset: w.next, FullFrom: max(fullFrom, 0)})
	if err != nil {
		return w.abort(err)
	}
	if _, _, err := w.prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: w.partition,
		Key: sarama.StringEncoder(eventlog.CheckpointKey), Value: sarama.ByteEncoder(cb)}); err != nil {
		return w.abort(err)
	}
	if err := w.prod.CommitTxn(); err != nil {
		return w.abort(err)
	}
	w.fullFrom = max(fullFrom, 0)
	w.checkpoints++
	w.metrics.snapshots.Add(float64(len(msgs)))
	w.log.Debug("snapshot written", zap.Int("threads", len(msgs)), zap.Bool("full", full), zap.Int64("checkpoint", w.next))
	w.dirty = map[string]bool{}
	w.sinceSnapshot = 0
	return nil
}
