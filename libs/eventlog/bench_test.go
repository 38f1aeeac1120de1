package eventlog_test

import (
	"testing"
	"time"

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
