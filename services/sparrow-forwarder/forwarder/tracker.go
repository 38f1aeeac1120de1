package forwarder

import "sync"

// tracker knows which offsets of a partition are done, when deliveries
// complete out of order, and reports the next offset to commit: one past the
// last of an unbroken run of completed offsets.
type tracker struct {
	mu     sync.Mutex
	queue  []int64
	done   map[int64]bool
	next   int64 // the offset committed last, or where reading started
	commit func(next int64)
}

func newTracker(start int64, commit func(next int64)) *tracker {
	return &tracker{done: map[int64]bool{}, next: start, commit: commit}
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
		t.next = last + 1
		t.commit(t.next)
	}
}

// committed is the next offset to read after what is done.
func (t *tracker) committed() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next
}

// outstanding is how many offsets were read but not completed.
func (t *tracker) outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}
