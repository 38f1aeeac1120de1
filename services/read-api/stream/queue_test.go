package stream

import "testing"

func TestQueueKeepsOrderUpToItsLimitAndGivesBackRoom(t *testing.T) {
	q := newQueue(4)
	items := make([]*item, 10)
	for i := range items {
		items[i] = &item{pos: int64(i)}
	}
	next := 0 // the next offset pushed
	want := 0 // the next offset popped
	// Pushes and pops interleaved so that the waiting ones slide down.
	for round := range 6 {
		for q.push(delivery{it: items[next%len(items)]}) {
			next++
		}
		if got := next - want; got != 4 {
			t.Fatalf("round %d: %d waiting when the queue refused, want its limit 4", round, got)
		}
		for range round%3 + 1 {
			d, ok := q.pop()
			if !ok || d.it.pos != int64(want%len(items)) {
				t.Fatalf("round %d: popped %v %v, want offset %d", round, d.it, ok, want%len(items))
			}
			want++
		}
	}
	select {
	case <-q.ready:
	default:
		t.Fatal("no ready token after pushes")
	}
	for {
		if _, ok := q.pop(); !ok {
			break
		}
		want++
	}
	if want != next {
		t.Fatalf("popped %d in all, pushed %d", want, next)
	}
	if cap(q.items) > idleCap {
		t.Errorf("an emptied queue keeps room for %d deliveries, want at most %d", cap(q.items), idleCap)
	}
}
