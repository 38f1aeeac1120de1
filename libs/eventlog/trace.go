package eventlog

import (
	"context"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/tracing"
)

// Outgoing is an event to append with the trace of the request that caused
// it, which its record carries in W3C headers (traceparent, tracestate):
// the consumers' spans continue it.
type Outgoing struct {
	Event domain.Event
	Trace trace.SpanContext
}

// TraceHeaders are the record headers carrying sc; none for an invalid one.
func TraceHeaders(ctx context.Context, sc trace.SpanContext) []sarama.RecordHeader {
	if !sc.IsValid() {
		return nil
	}
	carrier := propagation.MapCarrier{}
	tracing.Propagator().Inject(trace.ContextWithSpanContext(ctx, sc), carrier)
	hs := make([]sarama.RecordHeader, 0, len(carrier))
	for _, k := range carrier.Keys() {
		hs = append(hs, sarama.RecordHeader{Key: []byte(k), Value: []byte(carrier[k])})
	}
	return hs
}

// TraceOf is the trace a consumed record's headers carry; an invalid span
// context when they carry none (events written before, or a malformed
// header), whatever span ctx has.
func TraceOf(ctx context.Context, headers []*sarama.RecordHeader) trace.SpanContext {
	none := trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	return trace.SpanContextFromContext(tracing.Propagator().Extract(none, recordCarrier(headers)))
}

// recordCarrier reads W3C headers from a consumed record.
type recordCarrier []*sarama.RecordHeader

func (c recordCarrier) Get(key string) string {
	for _, h := range c {
		if h != nil && string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c recordCarrier) Set(string, string) {}

func (c recordCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for _, h := range c {
		if h != nil {
			keys = append(keys, string(h.Key))
		}
	}
	return keys
}
