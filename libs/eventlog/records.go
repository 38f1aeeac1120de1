package eventlog

import (
	"context"
	"fmt"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/trace"
)

// records are the Kafka records of a transaction's events. A bulk import
// appends a thousand events at a time, so they are built together: one
// array of messages and of their values, a key per run of events of one
// thread, and trace headers per request rather than per event (an import
// request's events share its trace).
func records(ctx context.Context, topic string, partition int32, events []Outgoing) ([]*sarama.ProducerMessage, error) {
	pms := make([]sarama.ProducerMessage, len(events))
	values := make([]sarama.ByteEncoder, len(events))
	msgs := make([]*sarama.ProducerMessage, len(events))
	var (
		key       sarama.Encoder
		keyThread string
		headers   []sarama.RecordHeader
		traced    trace.SpanContext
	)
	for i, o := range events {
		e := o.Event
		value, err := Encode(e)
		if err != nil {
			return nil, fmt.Errorf("encode event %s of thread %s: %w", e.ID, e.ThreadID, err)
		}
		values[i] = value
		if key == nil || e.ThreadID != keyThread {
			key, keyThread = sarama.StringEncoder(e.ThreadID), e.ThreadID
		}
		if i == 0 || !o.Trace.Equal(traced) {
			headers, traced = TraceHeaders(ctx, o.Trace), o.Trace
		}
		pms[i] = sarama.ProducerMessage{Topic: topic, Partition: partition, Key: key, Value: &values[i], Headers: headers}
		msgs[i] = &pms[i]
	}
	return msgs, nil
}
