package readmodel

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readstore"
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
	th := domain.NewThread(ulid.Make().String())
	events := decided(th, nil, domain.CreateThread{Title: "t"})
	for range 1000 {
		events = decided(th, events, domain.PostMessage{Body: "a message of ordinary length"})
	}
	r := projectedReader(b, events)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msgs, err := r.Messages(context.Background(), th.ID(), "", true, 50)
		if err != nil || len(msgs) != 50 {
			b.Fatal(len(msgs), err)
		}
	}
}

// BenchmarkListThreads lists the 50 threads of a member of 50 threads of 10
// members, with the member's read state of each.
func BenchmarkListThreads(b *testing.B) {
	var events []domain.Event
	members := []string{"bob", "carol", "dave", "erin", "frank", "gina", "hank", "ida", "jo"}
	for range 50 {
		th := domain.NewThread(ulid.Make().String())
		events = decided(th, events, domain.CreateThread{Title: "t", MemberIDs: members})
		for range 5 {
			events = decided(th, events, domain.PostMessage{Body: "hello"})
		}
	}
	r := projectedReader(b, events)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		listed, err := r.AccountThreads(context.Background(), "bob", nil, 50)
		if err != nil || len(listed) != 50 || listed[0].Summary.Unread.Messages != 5 {
			b.Fatal(len(listed), err)
		}
	}
}

// decided appends to events what alice's commands to th decide, applied.
func decided(th *domain.Thread, events []domain.Event, cmds ...domain.Command) []domain.Event {
	for _, c := range cmds {
		e, _, err := th.Decide(c, domain.Meta{ActorID: "alice", EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: time.Now()})
		if err != nil {
			panic(err)
		}
		_ = th.Apply(*e)
		events = append(events, *e)
	}
	return events
}

// projectedReader is a reader of a Pebble store holding the projection of
// events, closed when b ends.
func projectedReader(b *testing.B, events []domain.Event) *Reader {
	store, err := pebblestore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	if _, err := NewProjector(store).Apply(context.Background(), events); err != nil {
		b.Fatal(err)
	}
	return NewReader(store)
}

// BenchmarkProjectLiveBatch is the updater's batches under a chat load:
// posts to 1,000 threads of 10 members, each batch a few posts to as many
// threads (the updater applies what it has), readable at once as the
// updater writes them (readstore.Visible); ns/op and allocs/op are per
// event.
func BenchmarkProjectLiveBatch(b *testing.B) {
	store, err := pebblestore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	p := NewProjector(readstore.Visible(store))
	ctx := context.Background()
	members := []string{"b", "c", "d", "e", "f", "g", "h", "i", "j"}
	threads := make([]*domain.Thread, 1000)
	for i := range threads {
		threads[i] = domain.NewThread(ulid.Make().String())
		e, _, _ := threads[i].Decide(domain.CreateThread{Title: "t", MemberIDs: members}, domain.Meta{ActorID: "a", Now: time.Now()})
		_ = threads[i].Apply(*e)
		if _, err := p.Apply(ctx, []domain.Event{*e}); err != nil {
			b.Fatal(err)
		}
	}
	const perBatch = 4
	// The events are decided before the clock starts: only projecting them
	// is measured.
	events := make([]domain.Event, 0, 20000)
	for i := range cap(events) {
		th := threads[(i*7919)%len(threads)]
		author := members[i%len(members)]
		e, _, err := th.Decide(domain.PostMessage{Body: "hello, how is it going?"}, domain.Meta{ActorID: author, EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		_ = th.Apply(*e)
		events = append(events, *e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += perBatch {
		if n%len(events) == 0 && n > 0 {
			b.StopTimer()
			// Start the threads' versions over: a projector skips what it has.
			for i := range events {
				events[i].Version += uint64(len(events))
			}
			b.StartTimer()
		}
		i := n % len(events)
		if _, err := p.Apply(ctx, events[i:i+perBatch]); err != nil {
			b.Fatal(err)
		}
	}
}
