package eventlog

import (
	"context"
	"fmt"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/falcon-chat/falcon/libs/domain"
)

// A run of imported events shares one record up to these bounds: the
// stream's cursors number the events of a record in 10 bits, and the
// bytes stay well under Kafka's default 1 MB message limit (sarama's
// Producer.MaxMessageBytes, the broker's message.max.bytes).
const (
	MaxRunEvents = 1 << 10
	maxRunBytes  = 512 << 10
)

// Field numbers of EventEnvelope written by hand around a run's events,
// which are encoded once and copied in rather than encoded again inside a
// message.
const (
	fieldThreadID    protowire.Number = 2
	fieldVersion     protowire.Number = 3
	fieldImportedRun protowire.Number = 49
	fieldImported    protowire.Number = 50
	fieldRunEvents   protowire.Number = 1 // ImportedRun.events
)

// Records are the Kafka records of a transaction's events. A bulk import
// appends a thousand events at a time, so they are built together: one
// array of messages and of their values, a key per run of events of one
// thread, and trace headers per request rather than per event (an import
// request's events share its trace). A run of one thread's imported events
// of one request is one record (an ImportedRun): a record per legacy row
// made Kafka's per-record cost most of a bulk import's.
func Records(ctx context.Context, topic string, partition int32, events []Outgoing) ([]*sarama.ProducerMessage, error) {
	// Every event encoded into one buffer; encoded[i] is event i's part.
	buf := make([]byte, 0, 256*len(events))
	ends := make([]int, len(events))
	for i, o := range events {
		env, err := ToProto(o.Event)
		if err != nil {
			return nil, err
		}
		if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf, env); err != nil {
			return nil, fmt.Errorf("encode event %s of thread %s: %w", o.Event.ID, o.Event.ThreadID, err)
		}
		ends[i] = len(buf)
	}
	encoded := make([][]byte, len(events))
	start := 0
	for i, end := range ends {
		encoded[i], start = buf[start:end:end], end
	}

	pms := make([]sarama.ProducerMessage, 0, len(events))
	values := make([]sarama.ByteEncoder, 0, len(events))
	var (
		key       sarama.Encoder
		keyThread string
		headers   []sarama.RecordHeader
		traced    trace.SpanContext
	)
	for i := 0; i < len(events); {
		o := events[i]
		n := runLength(events[i:], encoded[i:])
		if n == 1 {
			values = append(values, encoded[i])
		} else {
			values = append(values, encodeRun(events[i+n-1].Event, encoded[i:i+n]))
		}
		if key == nil || o.Event.ThreadID != keyThread {
			key, keyThread = sarama.StringEncoder(o.Event.ThreadID), o.Event.ThreadID
		}
		if len(pms) == 0 || !o.Trace.Equal(traced) {
			headers, traced = TraceHeaders(ctx, o.Trace), o.Trace
		}
		pms = append(pms, sarama.ProducerMessage{Topic: topic, Partition: partition, Key: key, Headers: headers})
		i += n
	}
	msgs := make([]*sarama.ProducerMessage, len(pms))
	for i := range pms {
		pms[i].Value = &values[i]
		msgs[i] = &pms[i]
	}
	return msgs, nil
}

// runLength is how many of events, from the first, share its record: the
// first alone unless it is imported, then as many following imported
// events of the same thread and request as the bounds allow.
func runLength(events []Outgoing, encoded [][]byte) int {
	first := events[0]
	if !first.Event.Imported {
		return 1
	}
	n, size := 1, len(encoded[0])
	for n < len(events) && n < MaxRunEvents {
		e := events[n]
		if !e.Event.Imported || e.Event.ThreadID != first.Event.ThreadID || !e.Trace.Equal(first.Trace) {
			break
		}
		if size += len(encoded[n]); size > maxRunBytes {
			break
		}
		n++
	}
	return n
}

// encodeRun is the envelope of an ImportedRun of the encoded events, last
// being the last of them: its thread, its version, imported, and the
// events as they were encoded.
func encodeRun(last domain.Event, encoded [][]byte) []byte {
	runLen := 0
	for _, b := range encoded {
		runLen += protowire.SizeTag(fieldRunEvents) + protowire.SizeBytes(len(b))
	}
	size := protowire.SizeTag(fieldThreadID) + protowire.SizeBytes(len(last.ThreadID)) +
		protowire.SizeTag(fieldVersion) + protowire.SizeVarint(last.Version) +
		protowire.SizeTag(fieldImportedRun) + protowire.SizeBytes(runLen) +
		protowire.SizeTag(fieldImported) + protowire.SizeVarint(1)
	b := make([]byte, 0, size)
	b = protowire.AppendTag(b, fieldThreadID, protowire.BytesType)
	b = protowire.AppendString(b, last.ThreadID)
	b = protowire.AppendTag(b, fieldVersion, protowire.VarintType)
	b = protowire.AppendVarint(b, last.Version)
	b = protowire.AppendTag(b, fieldImportedRun, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(runLen))
	for _, e := range encoded {
		b = protowire.AppendTag(b, fieldRunEvents, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	b = protowire.AppendTag(b, fieldImported, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}
