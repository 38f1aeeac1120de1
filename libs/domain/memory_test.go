package domain

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkStateMemory measures what write-api holds per thread (created
// with 5 members) and per indexed message, in B/thread and B/message.
func BenchmarkStateMemory(b *testing.B) {
	const threads, messages = 2000, 50
	for i := 0; i < b.N; i++ {
		before := heap()
		ts := make([]*Thread, threads)
		for j := range ts {
			ts[j] = NewThread(fmt.Sprintf("01JD%022d", j))
			_ = ts[j].Apply(Event{ThreadID: ts[j].id, Version: 1, ActorID: "alice", RequestID: fmt.Sprintf("01JR%022d", j),
				Payload: ThreadCreated{Title: "a thread", MemberIDs: []string{"alice", "bob", "carol", "dave", "erin"}, AdministratorIDs: []string{"alice"}}})
		}
		created := heap()
		for j, t := range ts {
			for k := 0; k < messages; k++ {
				_ = t.Apply(Event{ThreadID: t.id, Version: uint64(k + 2), ActorID: "bob", RequestID: fmt.Sprintf("01JQ%011d%011d", j, k),
					OccurredAt: time.Time{}, Payload: MessagePosted{MessageID: fmt.Sprintf("01JM%011d%011d", j, k), Body: "x"}})
			}
		}
		posted := heap()
		b.ReportMetric(float64(created-before)/threads, "B/thread")
		b.ReportMetric(float64(posted-created)/(threads*messages), "B/message")
		runtime.KeepAlive(ts)
	}
}
