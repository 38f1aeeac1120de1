package stream

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/domain"
)

// benchHub is a hub of one partition with subscribers, without a log: the
// dispatcher's work after decoding, measured alone.
func benchHub(b *testing.B, retain, subscribers int) (*Hub, *partition) {
	h := NewHub(Config{Retain: retain, Buffer: 64, MaxSubscribers: subscribers + 1}, nil, nil, zap.NewNop(), prometheus.NewRegistry())
	p := &partition{id: 0, target: 0}
	p.done.Store(true)
	parts := []*partition{p}
	h.parts.Store(&parts)
	h.caughtUp.Store(1)
	for i := range subscribers {
		s, err := h.Subscribe(fmt.Sprint("member-", i), "")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
	}
	return h, p
}

func posted(i int, members []string) (*item, error) {
	e := domain.Event{ID: "01JD00000000000000000000EV", ThreadID: "01JD0000000000000000000THR", Version: uint64(i + 2),
		OccurredAt: time.Now(), ActorID: members[0],
		Payload: domain.MessagePosted{MessageID: "01JD0000000000000000000MSG", Body: "a message of about the length of a chat line, say eighty"}}
	wire, err := render(e)
	if err != nil {
		return nil, err
	}
	return &item{pos: int64(i), members: members, wire: wire, at: e.OccurredAt}, nil
}

// BenchmarkFanOut: one posted message to a thread of 10 members, among
// 10,000 subscribers, kept and handed to the members' queues, which are
// drained as a client would.
func BenchmarkFanOut(b *testing.B) {
	h, p := benchHub(b, 4096, 10_000)
	members := make([]string, 10)
	for i := range members {
		members[i] = fmt.Sprint("member-", i*1000)
	}
	subs := map[*Subscription]bool{}
	for _, a := range members {
		for s := range h.byAccount[a] {
			subs[s] = true
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		it, err := posted(i, members)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range h.keep(p, it) {
			s.deliver(p.id, it)
		}
		h.advance(p, int64(i)+1)
		for s := range subs {
			s.q.pop()
			s.pending[0].Add(-1)
		}
	}
}

// BenchmarkRetainedEvent reports the heap one retained event holds: what
// --stream-retain costs per partition.
func BenchmarkRetainedEvent(b *testing.B) {
	const n = 20_000
	members := make([]string, 10)
	for i := range members {
		members[i] = fmt.Sprint("member-", i)
	}
	for range b.N {
		h, p := benchHub(b, n, 0)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			it, err := posted(i, members)
			if err != nil {
				b.Fatal(err)
			}
			h.keep(p, it)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/event")
		runtime.KeepAlive(p)
	}
}
