package domain

import (
	"strconv"
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

// BenchmarkImport is bulk migration's domain work: one import call of 1,000
// new legacy messages into a room of 10 members, decided and folded.
func BenchmarkImport(b *testing.B) {
	const room, batch = 7, 1000
	th := NewThread(LegacyThreadID(room))
	at := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	meta := ImportMeta{ActorID: "migration", NewEventID: func() string { return ulid.Make().String() }}
	members := make([]ImportedMember, 10)
	for i := range members {
		members[i] = ImportedMember{AccountID: strconv.Itoa(1000 + i), Admin: i == 0, At: at}
	}
	if _, _, err := th.Import(Import{RoomID: room, Room: &ImportedRoom{Name: "general", CreatedAt: at, UpdatedAt: at}, Members: members}, meta); err != nil {
		b.Fatal(err)
	}
	msgs := make([]ImportedMessage, batch)
	next := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range msgs {
			msgs[j] = ImportedMessage{Number: next, AuthorID: members[j%10].AccountID, Body: "see you at the standup, bring the numbers",
				CreatedAt: at, UpdatedAt: at}
			if j%5 == 4 {
				msgs[j].ReplyTo = next - 2
			}
			next++
		}
		if _, _, err := th.Import(Import{RoomID: room, Messages: msgs}, meta); err != nil {
			b.Fatal(err)
		}
	}
}
