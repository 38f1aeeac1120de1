package eventlog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/trace"

	"github.com/falcon-chat/falcon/libs/domain"
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

// TestRecordsAreTheEventsInOrder: each record carries its event's own
// value, its thread as key and its request's trace, whatever is shared
// underneath.
func TestRecordsAreTheEventsInOrder(t *testing.T) {
	events := importedEvents(100)
	msgs, err := records(context.Background(), "events", 3, events)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(events) {
		t.Fatalf("%d records for %d events", len(msgs), len(events))
	}
	for i, m := range msgs {
		want, err := Encode(events[i].Event)
		if err != nil {
			t.Fatal(err)
		}
		value, _ := m.Value.Encode()
		key, _ := m.Key.Encode()
		switch {
		case m.Topic != "events" || m.Partition != 3:
			t.Fatalf("record %d goes to %s/%d", i, m.Topic, m.Partition)
		case string(value) != string(want):
			t.Fatalf("record %d holds another value than its event's", i)
		case string(key) != events[i].Event.ThreadID:
			t.Fatalf("record %d has key %q, want %q", i, key, events[i].Event.ThreadID)
		case !TraceOf(context.Background(), headerPointers(m.Headers)).Equal(events[i].Trace):
			t.Fatalf("record %d carries trace %v, want %v", i, TraceOf(context.Background(), headerPointers(m.Headers)), events[i].Trace)
		}
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
		if _, err := records(context.Background(), "events", 0, events); err != nil {
			b.Fatal(err)
		}
	}
}
