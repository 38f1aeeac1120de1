package eventlog

import (
	"context"
	"testing"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/trace"
)

func TestTraceHeadersRoundTrip(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled})
	var consumed []*sarama.RecordHeader
	for _, h := range TraceHeaders(context.Background(), sc) {
		consumed = append(consumed, &h)
	}
	got := TraceOf(context.Background(), consumed)
	if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() || !got.IsRemote() {
		t.Fatalf("carried %v, read back %v", sc, got)
	}
	cases := map[string][]*sarama.RecordHeader{
		"no headers":         nil,
		"a malformed header": {{Key: []byte("traceparent"), Value: []byte("00-zz-yy-01")}},
		"other headers only": {{Key: []byte("x"), Value: []byte("y")}, nil},
	}
	for name, hs := range cases {
		if sc := TraceOf(context.Background(), hs); sc.IsValid() {
			t.Errorf("%s: read trace %v", name, sc)
		}
	}
	if hs := TraceHeaders(context.Background(), trace.SpanContext{}); len(hs) != 0 {
		t.Errorf("an invalid span context is carried as %v", hs)
	}
}
