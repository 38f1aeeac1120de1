package stream

import "sync"

// queue is a subscriber's bounded buffer of deliveries. It holds room only
// for what is waiting, not for its bound: most subscribers are idle, and a
// channel of the bound's size for each of them made memory, and the garbage
// collector's work of scanning it, grow with the subscribers, not with the
// events waiting.
type queue struct {
	mu    sync.Mutex
	items []delivery
	head  int
	limit int
	// ready has a token while items may be waiting.
	ready chan struct{}
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, ready: make(chan struct{}, 1)}
}

// idleCap is the room a queue keeps once emptied; more is given back.
const idleCap = 8

// push adds d, or reports false when limit deliveries are waiting.
func (q *queue) push(d delivery) bool {
	q.mu.Lock()
	if len(q.items)-q.head >= q.limit {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Slide the waiting ones down before growing.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, d)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// pop takes the oldest delivery, if any.
func (q *queue) pop() (delivery, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return delivery{}, false
	}
	d := q.items[q.head]
	q.items[q.head] = delivery{}
	q.head++
	if q.head == len(q.items) {
		q.head = 0
		if cap(q.items) > idleCap {
			q.items = nil
		} else {
			q.items = q.items[:0]
		}
	}
	return d, true
}
