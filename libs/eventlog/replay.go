package eventlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/IBM/sarama"
)

// Record is one committed record read from a partition.
type Record struct {
	Offset int64
	Key    []byte
	Value  []byte
}

// ReadCommitted calls fn for every committed record of topic/partition from
// offset from up to, not including, offset until, in order. Records of
// aborted transactions and control markers are skipped.
//
// It fetches directly instead of through sarama's consumer because replay
// must know when it has reached until: the last offsets of a transactional
// partition are commit markers, which the consumer hides, so "the last
// message I saw" never reaches the end.
func ReadCommitted(ctx context.Context, client sarama.Client, topic string, partition int32, from, until int64, fn func(Record) error) error {
	offset := from
	for offset < until {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := fetchOnce(client, topic, partition, offset, fn)
		if err != nil {
			if !retriable(err) {
				return fmt.Errorf("read %s/%d at offset %d: %w", topic, partition, offset, err)
			}
			_ = client.RefreshMetadata(topic)
			if err := Sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		offset = next
	}
	return nil
}

func fetchOnce(client sarama.Client, topic string, partition int32, offset int64, fn func(Record) error) (int64, error) {
	broker, err := client.Leader(topic, partition)
	if err != nil {
		return offset, err
	}
	next, err := fetchBlocks(broker, topic, map[int32]int64{partition: offset}, 250, func(_ int32, r Record) error { return fn(r) })
	if err != nil {
		return offset, err
	}
	return next[partition].offset, next[partition].err
}

// fetched is where one partition's fetch left off, or why it failed.
type fetched struct {
	offset int64
	err    error
}

// fetchBlocks sends one read_committed fetch for every partition of
// offsets (all led by broker), waiting up to maxWaitMs for data, and calls
// fn for each committed record in each partition's order. It returns, per
// partition, the offset to fetch next (past control markers and aborted
// records) or the partition's error; the error it returns is the
// request's own, or fn's.
func fetchBlocks(broker *sarama.Broker, topic string, offsets map[int32]int64, maxWaitMs int32, fn func(int32, Record) error) (map[int32]fetched, error) {
	resp, err := broker.Fetch(fetchRequest(topic, offsets, maxWaitMs))
	if err != nil {
		return nil, err
	}
	out := make(map[int32]fetched, len(offsets))
	for p, offset := range offsets {
		block := resp.GetBlock(topic, p)
		if block == nil {
			// Left out: kfake stops adding partitions once the response
			// holds MaxBytes (Kafka answers for each, empty). Nothing was
			// read; the next fetch asks again.
			out[p] = fetched{offset: offset}
			continue
		}
		if !errors.Is(block.Err, sarama.ErrNoError) {
			out[p] = fetched{offset, block.Err}
			continue
		}
		next, err := committedRecords(block, offset, func(r Record) error { return fn(p, r) })
		if err != nil {
			return nil, err
		}
		out[p] = fetched{offset: next}
	}
	return out, nil
}

// fetchRequest asks for offsets of topic's partitions, read_committed, as
// one full fetch outside any fetch session (KIP-227). Epoch 0, the field's
// zero value, would ask the broker to open a session on every fetch: each
// one takes a slot of the broker's session cache, and once the cache is full
// (1,000 slots) every fetch evicts the oldest, which kfake finds by scanning
// them all (4% of falcon dev's CPU under a push load).
func fetchRequest(topic string, offsets map[int32]int64, maxWaitMs int32) *sarama.FetchRequest {
	req := &sarama.FetchRequest{
		Version:      11,
		MaxWaitTime:  maxWaitMs,
		MinBytes:     1,
		MaxBytes:     32 << 20,
		Isolation:    sarama.ReadCommitted,
		SessionID:    0,
		SessionEpoch: -1,
	}
	for p, o := range offsets {
		req.AddBlock(topic, p, o, 16<<20, -1)
	}
	return req
}

// committedRecords calls fn for the committed records of block at or after
// offset and returns the offset after the block's last batch.
func committedRecords(block *sarama.FetchResponseBlock, offset int64, fn func(Record) error) (int64, error) {
	aborted := block.AbortedTransactions
	sort.Slice(aborted, func(i, j int) bool { return aborted[i].FirstOffset < aborted[j].FirstOffset })
	abortedProducers := map[int64]struct{}{}
	for _, records := range block.RecordsSet {
		batch := records.RecordBatch
		if batch == nil || batch.PartialTrailingRecord {
			continue
		}
		for len(aborted) > 0 && aborted[0].FirstOffset <= batch.LastOffset() {
			abortedProducers[aborted[0].ProducerID] = struct{}{}
			aborted = aborted[1:]
		}
		_, inAborted := abortedProducers[batch.ProducerID]
		switch {
		case batch.Control:
			if inAborted && isAbortMarker(batch) {
				delete(abortedProducers, batch.ProducerID)
			}
		case batch.IsTransactional && inAborted:
			// Records of an aborted transaction.
		default:
			for _, r := range batch.Records {
				o := batch.FirstOffset + r.OffsetDelta
				if o < offset {
					continue
				}
				if err := fn(Record{Offset: o, Key: r.Key, Value: r.Value}); err != nil {
					return offset, err
				}
			}
		}
		if next := batch.LastOffset() + 1; next > offset {
			offset = next
		}
	}
	return offset, nil
}

// isAbortMarker reads the control record key: version int16, type int16
// (0 abort, 1 commit).
func isAbortMarker(b *sarama.RecordBatch) bool {
	if len(b.Records) == 0 || len(b.Records[0].Key) < 4 {
		return false
	}
	return binary.BigEndian.Uint16(b.Records[0].Key[2:4]) == 0
}

func retriable(err error) bool {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrNotLeaderForPartition, sarama.ErrLeaderNotAvailable, sarama.ErrUnknownTopicOrPartition,
			sarama.ErrRequestTimedOut, sarama.ErrNotEnoughReplicas, sarama.ErrOffsetNotAvailable, sarama.ErrFencedLeaderEpoch,
			sarama.ErrUnknownLeaderEpoch, sarama.ErrKafkaStorageError:
			return true
		}
		return false
	}
	if errors.Is(err, sarama.ErrClosedClient) {
		return false
	}
	return errors.Is(err, sarama.ErrOutOfBrokers) || errors.Is(err, sarama.ErrNotConnected) ||
		errors.Is(err, io.EOF) || isNetErr(err)
}

// Sleep waits d, or until ctx ends (then it returns ctx's error): the pause
// between retries of Kafka work, which must not outlive a shutdown.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
