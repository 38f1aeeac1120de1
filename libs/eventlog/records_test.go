package eventlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/domain"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// importedEvents are n imported messages of two threads, in runs of 10,
// the first half under one request's trace and the rest under another's.
func importedEvents(n int) []Outgoing {
	traces := []trace.SpanContext{
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true}),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{2}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true}),
	}
	out := make([]Outgoing, n)
	for i := range out {
		out[i] = Outgoing{Trace: traces[i*2/n], Event: domain.Event{
			ID: fmt.Sprintf("01JD00000000000000000%05d", i), ThreadID: fmt.Sprintf("01JD000000000000000000000%d", i/10%2),
			Version: uint64(i + 2), OccurredAt: time.Unix(1700000000, int64(i)), ActorID: "4242", Imported: true,
			Payload: domain.MessagePosted{MessageID: fmt.Sprintf("01JD00000000000000001%05d", i), Number: uint64(i + 1),
				Body: "a message of ordinary length, brought over from the legacy system"}}}
	}
	return out
}

// TestRecordsAreTheEventsInOrder: the records of a transaction hold its
// events in order, each record under its thread's key and its request's
// trace; a run of one thread's imported events of one request shares a
// record within the bounds, any other event has its own.
func TestRecordsAreTheEventsInOrder(t *testing.T) {
	oneThread := func(n, bodyLen int, imported bool) []Outgoing {
		out := importedEvents(n)
		for i := range out {
			out[i].Event.ThreadID, out[i].Event.Imported = "01JD0000000000000000000000", imported
			out[i].Trace = trace.SpanContext{}
			p := out[i].Event.Payload.(domain.MessagePosted)
			p.Body = strings.Repeat("x", bodyLen)
			out[i].Event.Payload = p
		}
		return out
	}
	tests := []struct {
		name   string
		events []Outgoing
		sizes  []int // events per record
	}{
		{"runs of two threads and two requests", importedEvents(100), []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10}},
		{"events made in Falcon", oneThread(3, 10, false), []int{1, 1, 1}},
		{"a long run", oneThread(2500, 10, true), []int{MaxRunEvents, MaxRunEvents, 2500 - 2*MaxRunEvents}},
		{"a run of long messages", oneThread(12, 200<<10, true), []int{2, 2, 2, 2, 2, 2}},
		{"one imported event", oneThread(1, 10, true), []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := Records(context.Background(), "events", 3, tt.events)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != len(tt.sizes) {
				t.Fatalf("%d records, want %d", len(msgs), len(tt.sizes))
			}
			next := 0
			for i, m := range msgs {
				value, _ := m.Value.Encode()
				key, _ := m.Key.Encode()
				if m.Topic != "events" || m.Partition != 3 {
					t.Fatalf("record %d goes to %s/%d", i, m.Topic, m.Partition)
				}
				if len(value) > maxRunBytes+1024 && tt.sizes[i] > 1 {
					t.Fatalf("record %d is %d bytes", i, len(value))
				}
				first := next
				err := DecodeEvents(value, func(e domain.Event, err error) error {
					if err != nil {
						return err
					}
					want := tt.events[next]
					got, _ := Encode(e)
					if wantb, _ := Encode(want.Event); string(got) != string(wantb) {
						return fmt.Errorf("event %d decodes to %+v, want %+v", next, e, want.Event)
					}
					if string(key) != want.Event.ThreadID {
						return fmt.Errorf("event %d is under key %q, want %q", next, key, want.Event.ThreadID)
					}
					if sc := TraceOf(context.Background(), headerPointers(m.Headers)); !sc.Equal(want.Trace) {
						return fmt.Errorf("event %d carries trace %v, want %v", next, sc, want.Trace)
					}
					next++
					return nil
				})
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if next-first != tt.sizes[i] || CountEvents(value) != tt.sizes[i] {
					t.Fatalf("record %d holds %d events, counted %d; want %d", i, next-first, CountEvents(value), tt.sizes[i])
				}
			}
			if next != len(tt.events) {
				t.Fatalf("the records hold %d events of %d", next, len(tt.events))
			}
		})
	}
}

// TestCountEventsOfValuesThatDoNotParse: a value that does not parse
// counts as the one event a consumer skips.
func TestCountEventsOfValuesThatDoNotParse(t *testing.T) {
	for _, v := range [][]byte{nil, {0xff}, {0xca, 0x03, 0x7f}, {0xca, 0x03, 0x02, 0x0a}} {
		if n := CountEvents(v); n != 1 {
			t.Errorf("CountEvents(%x) = %d, want 1", v, n)
		}
	}
}

// TestDecodeRefusesARunAsOneEvent: Decode is for a record of one event; a
// run read through it is an error, not its first event or an empty one.
func TestDecodeRefusesARunAsOneEvent(t *testing.T) {
	msgs, err := Records(context.Background(), "events", 0, importedEvents(10))
	if err != nil {
		t.Fatal(err)
	}
	value, _ := msgs[0].Value.Encode()
	if _, err := Decode(value); err == nil || errors.Is(err, ErrUnknownEvent) {
		t.Fatalf("Decode of a run: %v, want an error saying it is a run", err)
	}
}

func headerPointers(hs []sarama.RecordHeader) []*sarama.RecordHeader {
	out := make([]*sarama.RecordHeader, len(hs))
	for i := range hs {
		out[i] = &hs[i]
	}
	return out
}

// BenchmarkRecords builds the records of a transaction of 1,000 imported
// messages (one import request); ns/op is per transaction.
func BenchmarkRecords(b *testing.B) {
	events := importedEvents(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Records(context.Background(), "events", 0, events); err != nil {
			b.Fatal(err)
		}
	}
}

// The envelope around a run and a snapshot's messages are written by hand;
// their field numbers must be the schema's, or every reader would misread
// them.
func TestHandWrittenFieldNumbersAreTheSchemas(t *testing.T) {
	envelope := (&falconv1.EventEnvelope{}).ProtoReflect().Descriptor().Fields()
	run := (&falconv1.ImportedRun{}).ProtoReflect().Descriptor().Fields()
	snapshot := (&falconv1.ThreadSnapshot{}).ProtoReflect().Descriptor().Fields()
	indexed := (&falconv1.IndexedMessage{}).ProtoReflect().Descriptor().Fields()
	timestamp := (&timestamppb.Timestamp{}).ProtoReflect().Descriptor().Fields()
	posted := (&falconv1.MessagePosted{}).ProtoReflect().Descriptor().Fields()
	for _, c := range []struct {
		fields protoreflect.FieldDescriptors
		name   protoreflect.Name
		want   protowire.Number
	}{
		{envelope, "thread_id", fieldThreadID},
		{envelope, "version", fieldVersion},
		{envelope, "imported_run", fieldImportedRun},
		{envelope, "imported", fieldImported},
		{run, "events", fieldRunEvents},
		{snapshot, "messages", fieldSnapshotMessages},
		{indexed, "message_id", fieldMessageID},
		{indexed, "author_id", fieldMessageAuthor},
		{indexed, "sequence", fieldMessageSequence},
		{indexed, "message_number", fieldMessageNumber},
		{indexed, "deleted", fieldMessageDeleted},
		{envelope, "event_id", fieldEventID},
		{envelope, "occurred_at", fieldOccurredAt},
		{envelope, "actor_id", fieldActorID},
		{envelope, "request_id", fieldRequestID},
		{envelope, "correlation_id", fieldCorrelationID},
		{envelope, "request_hash", fieldRequestHash},
		{envelope, "thread_number", fieldThreadNumber},
		{envelope, "message_posted", fieldMessagePosted},
		{timestamp, "seconds", fieldSeconds},
		{timestamp, "nanos", fieldNanos},
		{posted, "message_id", fieldPostedMessageID},
		{posted, "body", fieldPostedBody},
		{posted, "reply_to_message_id", fieldPostedReplyTo},
		{posted, "mention_account_ids", fieldPostedMentions},
		{posted, "sequence", fieldPostedSequence},
		{posted, "message_number", fieldPostedNumber},
		{posted, "reply_to_message_number", fieldPostedReplyNumber},
	} {
		f := c.fields.ByName(c.name)
		if f == nil {
			t.Errorf("the schema has no field %s", c.name)
			continue
		}
		if got := protowire.Number(f.Number()); got != c.want {
			t.Errorf("field %s is number %d in the schema, %d in records.go", c.name, got, c.want)
		}
	}
}

// The envelope of a posted message is written by hand: byte for byte what
// proto.Marshal makes of ToProto's, for random values of every field (zero
// ones, empty mentions, times before 1970 and far ahead included), and
// refused where proto.Marshal refuses.
func TestPostedEnvelopeIsProtoMarshals(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	text := func() string {
		const alphabet = "ab01 é漢🙂\n\x00"
		var b strings.Builder
		for range rng.IntN(4) * rng.IntN(40) {
			r := []rune(alphabet)
			b.WriteRune(r[rng.IntN(len(r))])
		}
		return b.String()
	}
	number := func() uint64 {
		if rng.IntN(3) == 0 {
			return 0
		}
		return rng.Uint64() >> rng.IntN(64)
	}
	for i := range 2000 {
		p := domain.MessagePosted{MessageID: text(), Body: text(), ReplyToMessageID: text(), Sequence: number(), Number: number(), ReplyToNumber: number()}
		for range rng.IntN(4) {
			p.MentionAccountIDs = append(p.MentionAccountIDs, text())
		}
		e := domain.Event{ID: text(), ThreadID: text(), Version: number(), ActorID: text(), RequestID: text(), CorrelationID: text(),
			RequestHash: text(), ThreadNumber: number(), Imported: rng.IntN(2) == 0, Payload: p,
			OccurredAt: time.Unix(rng.Int64N(1<<40)-1<<39, rng.Int64N(1e9)*int64(rng.IntN(2)))}
		if i == 0 {
			e.OccurredAt = time.Unix(0, 0)
		}
		env, err := ToProto(e)
		if err != nil {
			t.Fatal(err)
		}
		want, err := proto.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		size, err := postedSize(&e, &p)
		if err != nil {
			t.Fatal(err)
		}
		got := appendPosted([]byte("prefix"), &e, &p)
		if size != len(want) || !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("event %+v: hand-written %d bytes (sized %d)\n%x\nproto.Marshal %d\n%x", e, len(got)-len("prefix"), size, got[len("prefix"):], len(want), want)
		}
	}
	for _, bad := range []func(e *domain.Event, p *domain.MessagePosted){
		func(e *domain.Event, _ *domain.MessagePosted) { e.ActorID = "\xff" },
		func(_ *domain.Event, p *domain.MessagePosted) { p.Body = "a\xc3" },
		func(_ *domain.Event, p *domain.MessagePosted) { p.MentionAccountIDs = []string{"ok", "\xfe"} },
	} {
		e := domain.Event{ID: "e", ThreadID: "t", Version: 1}
		p := domain.MessagePosted{MessageID: "m", Body: "b"}
		bad(&e, &p)
		e.Payload = p
		env, _ := ToProto(e)
		if _, err := proto.Marshal(env); err == nil {
			t.Fatalf("proto.Marshal took %+v", e)
		}
		if _, err := postedSize(&e, &p); err == nil {
			t.Errorf("the hand-written envelope took %+v, which proto.Marshal refuses", e)
		}
	}
}

// A transaction's buffer is sized from runSize: it must be a run's length
// exactly, or every bulk transaction would allocate more than it writes.
func TestRunSizeIsItsLength(t *testing.T) {
	events := importedEvents(40)
	msgs, err := Records(context.Background(), "t", 0, events)
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	for _, m := range msgs {
		value, _ := m.Value.Encode()
		n := CountEvents(value)
		sizes := make([]int, n)
		for i := range sizes {
			e := &events[next+i].Event
			p := e.Payload.(domain.MessagePosted)
			if sizes[i], err = postedSize(e, &p); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := len(value), runSize(events[next+n-1].Event, sizes); n > 1 && got != want {
			t.Errorf("a run of %d events is %d bytes, runSize says %d", n, got, want)
		}
		next += n
	}
}
