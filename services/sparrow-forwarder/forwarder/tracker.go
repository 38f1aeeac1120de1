package forwarder

import "sync"

// tracker knows which offsets of a partition are done, when deliveries
// complete out of order, and reports the next offset to commit: one past the
// last of an unbroken run of completed offsets.
type tracker struct {
	mu     sync.Mutex
	queue  []int64
	done   map[int64]bool
	commit func(next int64)
}

func newTracker(commit func(next int64)) *tracker {
	return &tracker{done: map[int64]bool{}, commit: commit}
}

// add registers an offset read from the partition, in order.
func (t *tracker) add(offset int64) {
	t.mu.Lock()
	t.queue = append(t.queue, offset)
	t.mu.Unlock()
}

// complete marks an offset done and commits as far as the run reaches.
func (t *tracker) complete(offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done[offset] = true
	advanced, last := false, int64(0)
	for len(t.queue) > 0 && t.done[t.queue[0]] {
		last = t.queue[0]
		delete(t.done, last)
		t.queue = t.queue[1:]
		advanced = true
	}
	if advanced {
		t.commit(last + 1)
	}
}

// outstanding is how many offsets were read but not completed.
func (t *tracker) outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}
