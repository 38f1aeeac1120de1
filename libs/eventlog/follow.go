package eventlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"golang.org/x/sync/errgroup"
)

// Follower is what Follow tells about each partition it reads.
type Follower interface {
	// Record is called for each committed record, in the partition's order.
	Record(partition int32, r Record) error
	// Reached is called after each fetch with the offset the partition's
	// reading has reached (past control markers and aborted records): every
	// committed record before it has been passed to Record.
	Reached(partition int32, offset int64) error
}

// followWaitMs is how long a fetch waits for new records: the longest a
// follower sees no progress on an idle log.
const followWaitMs = 100

// Follow reads the committed records of topic from the offsets of from (per
// partition) onwards until ctx ends or f returns an error. The partitions
// led by one broker share one fetch: partitions each with a long-polling
// fetch of their own would queue behind each other on the broker's
// connection.
func Follow(ctx context.Context, client sarama.Client, topic string, from map[int32]int64, f Follower) error {
	var mu sync.Mutex // f is called by one goroutine per broker
	calls := lockedFollower{f: f, mu: &mu}
	pos := make(map[int32]int64, len(from))
	for p, o := range from {
		pos[p] = o
	}
	for {
		groups, err := byLeader(client, topic, pos)
		if err != nil {
			if !retriable(err) {
				return err
			}
			if err := Sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		g, gctx := errgroup.WithContext(ctx)
		var posMu sync.Mutex
		for broker, parts := range groups {
			g.Go(func() error {
				offsets := make(map[int32]int64, len(parts))
				posMu.Lock()
				for _, p := range parts {
					offsets[p] = pos[p]
				}
				posMu.Unlock()
				for gctx.Err() == nil {
					got, err := fetchBlocks(broker, topic, offsets, followWaitMs, calls.record)
					if err != nil {
						return err
					}
					for p, r := range got {
						if r.err != nil {
							return r.err
						}
						offsets[p] = r.offset
						posMu.Lock()
						pos[p] = r.offset
						posMu.Unlock()
						if err := calls.reached(p, r.offset); err != nil {
							return err
						}
					}
				}
				return gctx.Err()
			})
		}
		err = g.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !retriable(err) && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("follow %s: %w", topic, err)
		}
		// A leader moved or a connection broke: find the leaders again.
		_ = client.RefreshMetadata(topic)
		if err := Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

func byLeader(client sarama.Client, topic string, pos map[int32]int64) (map[*sarama.Broker][]int32, error) {
	out := map[*sarama.Broker][]int32{}
	for p := range pos {
		b, err := client.Leader(topic, p)
		if err != nil {
			return nil, err
		}
		out[b] = append(out[b], p)
	}
	return out, nil
}

type lockedFollower struct {
	f  Follower
	mu *sync.Mutex
}

func (l lockedFollower) record(p int32, r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Record(p, r)
}

func (l lockedFollower) reached(p int32, o int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Reached(p, o)
}

// Bounds returns the oldest offset of each partition of topic and the
// offset after its last committed record (read_committed: the last stable
// offset).
func Bounds(client sarama.Client, topic string) (oldest, next map[int32]int64, err error) {
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	oldest, next = map[int32]int64{}, map[int32]int64{}
	for _, p := range parts {
		if oldest[p], err = client.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
			return nil, nil, fmt.Errorf("oldest offset of %s/%d: %w", topic, p, err)
		}
		if next[p], err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return nil, nil, fmt.Errorf("newest offset of %s/%d: %w", topic, p, err)
		}
	}
	return oldest, next, nil
}
