package readmodel

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/pebblestore"
)

// BenchmarkProjectBatch applies batches of 500 MessagePosted events spread
// over 50 threads of 5 members, durably; ns/op is per event.
func BenchmarkProjectBatch(b *testing.B) {
	store, err := pebblestore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	p := NewProjector(store)
	ctx := context.Background()
	threads := make([]*domain.Thread, 50)
	var batch []domain.Event
	for i := range threads {
		threads[i] = domain.NewThread(ulid.Make().String())
		e, _, _ := threads[i].Decide(domain.CreateThread{Title: "t", MemberIDs: []string{"a", "b", "c", "d"}}, domain.Meta{ActorID: "alice", Now: time.Now()})
		_ = threads[i].Apply(*e)
		batch = append(batch, *e)
	}
	if _, err := p.Apply(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += 500 {
		batch = batch[:0]
		for i := 0; i < 500; i++ {
			th := threads[i%len(threads)]
			e, _, err := th.Decide(domain.PostMessage{Body: "hello"}, domain.Meta{ActorID: "alice", EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: time.Now()})
			if err != nil {
				b.Fatal(err)
			}
			_ = th.Apply(*e)
			batch = append(batch, *e)
		}
		if _, err := p.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListMessagesPage reads one 50-message page of a 1,000-message
// thread, newest first.
func BenchmarkListMessagesPage(b *testing.B) {
	store, err := pebblestore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	th := domain.NewThread(ulid.Make().String())
	var events []domain.Event
	e, _, _ := th.Decide(domain.CreateThread{Title: "t"}, domain.Meta{ActorID: "alice", Now: time.Now()})
	_ = th.Apply(*e)
	events = append(events, *e)
	for i := 0; i < 1000; i++ {
		e, _, _ := th.Decide(domain.PostMessage{Body: "a message of ordinary length"}, domain.Meta{ActorID: "alice", EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: time.Now()})
		_ = th.Apply(*e)
		events = append(events, *e)
	}
	if _, err := NewProjector(store).Apply(context.Background(), events); err != nil {
		b.Fatal(err)
	}
	r := NewReader(store)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msgs, err := r.Messages(context.Background(), th.ID(), "", true, 50)
		if err != nil || len(msgs) != 50 {
			b.Fatal(len(msgs), err)
		}
	}
}
