// Package snowflake makes the 64-bit numeric ids of threads and messages,
// which the legacy system's BIGINT columns hold next to Falcon's ULIDs.
//
// An id is, from the most significant bit: 0 (it fits a signed BIGINT too),
// 1 (every id Falcon makes is at least 2^62: legacy ids, which are below
// it, never collide with one), 41 bits of milliseconds since Epoch (69
// years), 10 bits of partition (1,024 partitions) and 11 bits of sequence
// (2,048 ids per millisecond and partition). Each partition has one writer
// at a time, so ids are unique without coordination; a new owner observes
// the ids it replays and continues after the last, so they stay increasing
// across takeovers even when its clock is behind the previous owner's.
package snowflake

import (
	"fmt"
	"time"
)

// Epoch is the zero of an id's milliseconds: 2026-01-01T00:00:00Z.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	sequenceBits  = 11
	partitionBits = 10
	timeBits      = 41

	// Base is the smallest id Falcon makes; every legacy id is below it.
	Base uint64 = 1 << 62

	// MaxPartitions is the most partitions ids can name.
	MaxPartitions = 1 << partitionBits

	maxSequence = 1<<sequenceBits - 1
	maxMillis   = 1<<timeBits - 1
)

// Generator makes the ids of one partition. It is not safe for concurrent
// use: the partition's writer owns it.
type Generator struct {
	partition uint64
	last      uint64
}

// New returns the generator of partition p.
func New(p int32) (*Generator, error) {
	if p < 0 || p >= MaxPartitions {
		return nil, fmt.Errorf("partition %d: numeric ids name partitions 0 to %d", p, MaxPartitions-1)
	}
	return &Generator{partition: uint64(p)}, nil
}

// Next returns an id greater than every id this generator made or
// observed: of now's millisecond when it can, else one more than the last
// (a burst of more than 2,048 ids in a millisecond borrows from the next
// ones, and a clock that went back waits for nothing).
func (g *Generator) Next(now time.Time) uint64 {
	id := compose(millis(now), g.partition, 0)
	if id <= g.last {
		// The next sequence of the last id's millisecond, or the first of
		// the millisecond after it.
		ms, seq := g.last&^Base>>(partitionBits+sequenceBits), g.last&maxSequence
		if seq < maxSequence {
			seq++
		} else {
			ms, seq = min(ms+1, maxMillis), 0
		}
		id = compose(ms, g.partition, seq)
	}
	g.last = id
	return id
}

// Observe notes an id of this partition found in the log, so that Next
// continues after it. Ids of other partitions (threads imported, or moved
// with a repartitioning) and legacy ids are ignored.
func (g *Generator) Observe(id uint64) {
	if id < Base || Partition(id) != int32(g.partition) {
		return
	}
	g.last = max(g.last, id)
}

// Last is the greatest id made or observed; 0 if none.
func (g *Generator) Last() uint64 { return g.last }

// millis is now in milliseconds since Epoch, within the 41 bits.
func millis(now time.Time) uint64 {
	return uint64(max(0, min(now.Sub(Epoch).Milliseconds(), maxMillis)))
}

func compose(ms, partition, seq uint64) uint64 {
	return Base | ms<<(partitionBits+sequenceBits) | partition<<sequenceBits | seq
}

// Partition is the partition that made id (Falcon's ids only).
func Partition(id uint64) int32 {
	return int32(id >> sequenceBits & (MaxPartitions - 1))
}

// Time is the millisecond id was made in (Falcon's ids only).
func Time(id uint64) time.Time {
	ms := id &^ Base >> (partitionBits + sequenceBits)
	return Epoch.Add(time.Duration(ms) * time.Millisecond)
}

// IsLegacy says whether id is in the legacy id space (below Base).
func IsLegacy(id uint64) bool { return id < Base }
