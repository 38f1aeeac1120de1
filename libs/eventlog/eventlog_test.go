package eventlog_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

func TestCodecRoundTrip(t *testing.T) {
	title, remarks := "t", ""
	payloads := []domain.Payload{
		domain.ThreadCreated{Title: "t", Remarks: "r", MemberIDs: []string{"a", "b"}, AdministratorIDs: []string{"a"}, Number: 1<<62 + 1},
		domain.ThreadUpdated{Title: &title, Remarks: &remarks},
		domain.ThreadUpdated{Title: &title},
		domain.ThreadDestroyed{},
		domain.MembersAdded{AccountIDs: []string{"c"}},
		domain.MembersRemoved{AccountIDs: []string{"c"}},
		domain.AdministratorsAdded{AccountIDs: []string{"c"}},
		domain.AdministratorsRemoved{AccountIDs: []string{"c"}},
		domain.MessagePosted{MessageID: "m", Body: "hello", ReplyToMessageID: "p", MentionAccountIDs: []string{"b"}, Number: 1<<62 + 3, ReplyToNumber: 1<<62 + 2},
		domain.MessageEdited{MessageID: "m", Body: "hello!", Number: 1<<62 + 3},
		domain.MessageDeleted{MessageID: "m", Number: 1<<62 + 3},
	}
	for _, p := range payloads {
		t.Run(p.EventType(), func(t *testing.T) {
			e := domain.Event{ID: "e", ThreadID: "t", Version: 7, OccurredAt: time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC),
				ActorID: "a", RequestID: "r", CorrelationID: "c", RequestHash: "h", ThreadNumber: 1<<62 + 1, Imported: true, Payload: p}
			b, err := eventlog.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := eventlog.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("decoded %+v, want %+v", got, e)
			}
		})
	}
}

func TestDecodeUnknownPayloadKeepsTheEnvelope(t *testing.T) {
	b, _ := proto.Marshal(&falconv1.EventEnvelope{EventId: "e", ThreadId: "t", Version: 4})
	e, err := eventlog.Decode(b)
	if !errors.Is(err, eventlog.ErrUnknownEvent) || e.Version != 4 || e.ThreadID != "t" {
		t.Fatalf("got %+v, %v; want the envelope and ErrUnknownEvent", e, err)
	}
	if _, err := eventlog.Decode([]byte{0xff, 0xff}); err == nil || errors.Is(err, eventlog.ErrUnknownEvent) {
		t.Fatalf("garbage decoded with %v", err)
	}
}

// The partitioner is a contract with every producer: these values, computed
// with the reference FNV-1a (offset basis 0x811c9dc5, prime 0x01000193) taken
// as int32, remainder, absolute value, must never change.
func TestPartitionForIsStable(t *testing.T) {
	cases := []struct {
		id         string
		partitions int32
		want       int32
	}{
		{"01JD0000000000000000000001", 12, 5},
		{"01JD0000000000000000000002", 12, 6},
		{"thread-a", 12, 5},
		{"thread-a", 1000, 465},
		{"01JD0000000000000000000001", 1000, 961},
		{"", 12, 3},
	}
	for _, c := range cases {
		if got := eventlog.PartitionFor(c.id, c.partitions); got != c.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", c.id, c.partitions, got, c.want)
		}
	}
}

func TestReadCommittedSkipsAbortedTransactionsAndMarkers(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := newTopic(t, brokers)
	prod := txnProducer(t, brokers, testenv.Name(t, "test_txn"), 0)
	abort := func(values ...string) {
		t.Helper()
		if err := prod.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		if err := send(t, prod, topic, values...); err != nil {
			t.Fatal(err)
		}
		if err := prod.AbortTxn(); err != nil {
			t.Fatal(err)
		}
	}
	commit(t, prod, topic, "a", "b")
	abort("x", "y")
	commit(t, prod, topic, "c")
	abort("z")
	if got := committed(testenv.Context(t, 20*time.Second), t, brokers, topic); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("read %v, want [a b c]", got)
	}
}
