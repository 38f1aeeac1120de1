package snowflake

import (
	"testing"
	"time"
)

func TestIDsIncreaseAndNamePartitionAndTime(t *testing.T) {
	g, err := New(37)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	var last uint64
	seen := map[uint64]bool{}
	// A burst over the sequence's 2,048 ids per millisecond, and a clock
	// that goes back.
	for i := 0; i < 5000; i++ {
		at := now
		if i == 3000 {
			at = now.Add(-time.Hour)
		}
		id := g.Next(at)
		if id <= last || seen[id] {
			t.Fatalf("id %d after %d", id, last)
		}
		if id < Base || IsLegacy(id) || Partition(id) != 37 {
			t.Fatalf("id %d: partition %d, below the legacy bound: %v", id, Partition(id), IsLegacy(id))
		}
		seen[id], last = true, id
	}
	first := g.Next(now.Add(time.Second))
	if got := Time(first); !got.Equal(now.Add(time.Second)) {
		t.Errorf("the id of %v names %v", now.Add(time.Second), got)
	}
	if int64(last) < 0 {
		t.Errorf("id %d does not fit a signed BIGINT", last)
	}
}

// TestATakeoverContinuesAfterTheLastID: a new owner whose clock is behind
// the previous owner's continues after the ids it replayed; ids of other
// partitions and legacy ids do not move it.
func TestATakeoverContinuesAfterTheLastID(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	old, _ := New(5)
	var made []uint64
	for i := 0; i < 100; i++ {
		made = append(made, old.Next(now.Add(time.Minute)))
	}
	other, _ := New(6)
	next, _ := New(5)
	for _, id := range made {
		next.Observe(id)
	}
	next.Observe(other.Next(now.Add(time.Hour)))
	next.Observe(12345) // a legacy id
	if next.Last() != made[len(made)-1] {
		t.Fatalf("observed up to %d, want %d", next.Last(), made[len(made)-1])
	}
	if id := next.Next(now); id <= made[len(made)-1] {
		t.Fatalf("the new owner made %d, not after %d", id, made[len(made)-1])
	}
}

func TestPartitionBounds(t *testing.T) {
	for _, p := range []int32{-1, MaxPartitions} {
		if _, err := New(p); err == nil {
			t.Errorf("partition %d accepted", p)
		}
	}
	if _, err := New(MaxPartitions - 1); err != nil {
		t.Error(err)
	}
}

func BenchmarkNext(b *testing.B) {
	g, _ := New(1)
	now := time.Now()
	for b.Loop() {
		g.Next(now)
	}
}
