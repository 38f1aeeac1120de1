package eventlog_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
)

func BenchmarkEncodeDecode(b *testing.B) {
	e := domain.Event{ID: "01JD0000000000000000000001", ThreadID: "01JD0000000000000000000002", Version: 42,
		OccurredAt: time.Now(), ActorID: "alice", RequestID: "01JD0000000000000000000003",
		Payload: domain.MessagePosted{MessageID: "01JD0000000000000000000004", Body: "hello, world", MentionAccountIDs: []string{"bob"}}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v, err := eventlog.Encode(e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eventlog.Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotThread is a snapshot's cost per thread as a writer pays
// it: a room imported with 10 members and 5,000 messages, captured and
// encoded (a partition's complete snapshot after a migration is thousands
// of these, and its writer takes no command meanwhile).
func BenchmarkSnapshotThread(b *testing.B) {
	th := importedRoom(b, 5000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := eventlog.EncodeSnapshot(th.Snapshot()); err != nil {
			b.Fatal(err)
		}
	}
}

// importedRoom is a legacy room of 10 members with n messages imported.
func importedRoom(b *testing.B, n int) *domain.Thread {
	b.Helper()
	const room = 7
	th := domain.NewThread(domain.LegacyThreadID(room))
	at := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	meta := domain.ImportMeta{ActorID: "migration", NewEventID: func() string { return ulid.Make().String() }}
	members := make([]domain.ImportedMember, 10)
	for i := range members {
		members[i] = domain.ImportedMember{AccountID: strconv.Itoa(1000 + i), Admin: i == 0, At: at}
	}
	msgs := make([]domain.ImportedMessage, n)
	for j := range msgs {
		msgs[j] = domain.ImportedMessage{Number: uint64(j + 1), AuthorID: members[j%10].AccountID, Body: "see you at the standup",
			CreatedAt: at, UpdatedAt: at}
	}
	if _, _, err := th.Import(domain.Import{RoomID: room, Room: &domain.ImportedRoom{Name: "general", CreatedAt: at, UpdatedAt: at},
		Members: members, Messages: msgs}, meta); err != nil {
		b.Fatal(err)
	}
	return th
}
