package domain

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

// BenchmarkPostMessage is the write path's domain work per message: decide
// and fold.
func BenchmarkPostMessage(b *testing.B) {
	th := NewThread(ulid.Make().String())
	e, _, _ := th.Decide(CreateThread{Title: "bench", MemberIDs: []string{"bob"}}, Meta{ActorID: "alice", Now: time.Now()})
	_ = th.Apply(*e)
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = ulid.Make().String()
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, _, err := th.Decide(PostMessage{Body: "hello, world"}, Meta{ActorID: "bob", RequestID: ids[i%1024], EventID: ids[(i+1)%1024], NewMessageID: ids[(i+2)%1024], Now: now})
		if err != nil {
			b.Fatal(err)
		}
		if e != nil {
			_ = th.Apply(*e)
		}
	}
}
