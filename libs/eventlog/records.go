package eventlog

import (
	"context"
	"fmt"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/falcon-chat/falcon/libs/domain"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
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
	// Each event's size first, so that every record's value is written
	// once, in place, into one buffer of the transaction's exact size (an
	// event of a run straight into its run).
	// A posted message's envelope is written by hand (posted.go); any other
	// event's is made by ToProto (envs[i]).
	envs := make([]*falconv1.EventEnvelope, len(events))
	sizes := make([]int, len(events))
	for i := range events {
		e := &events[i].Event
		if p, ok := e.Payload.(domain.MessagePosted); ok {
			size, err := postedSize(e, &p)
			if err != nil {
				return nil, err
			}
			sizes[i] = size
			continue
		}
		env, err := ToProto(*e)
		if err != nil {
			return nil, err
		}
		envs[i], sizes[i] = env, proto.Size(env)
	}
	type record struct{ first, n, size int }
	records := make([]record, 0, len(events))
	total := 0
	for i := 0; i < len(events); {
		n := runLength(events[i:], sizes[i:])
		size := sizes[i]
		if n > 1 {
			size = runSize(events[i+n-1].Event, sizes[i:i+n])
		}
		records = append(records, record{first: i, n: n, size: size})
		total += size
		i += n
	}
	buf := make([]byte, 0, total)
	marshal := proto.MarshalOptions{UseCachedSize: true}
	pms := make([]sarama.ProducerMessage, len(records))
	values := make([]sarama.ByteEncoder, len(records))
	var (
		key       sarama.Encoder
		keyThread string
		headers   []sarama.RecordHeader
		traced    trace.SpanContext
	)
	for r, rec := range records {
		start := len(buf)
		if rec.n > 1 {
			buf = appendRunHeader(buf, events[rec.first+rec.n-1].Event, sizes[rec.first:rec.first+rec.n])
		}
		for i := rec.first; i < rec.first+rec.n; i++ {
			if rec.n > 1 {
				buf = protowire.AppendTag(buf, fieldRunEvents, protowire.BytesType)
				buf = protowire.AppendVarint(buf, uint64(sizes[i]))
			}
			if envs[i] == nil {
				p := events[i].Event.Payload.(domain.MessagePosted)
				buf = appendPosted(buf, &events[i].Event, &p)
				continue
			}
			var err error
			if buf, err = marshal.MarshalAppend(buf, envs[i]); err != nil {
				return nil, fmt.Errorf("encode event %s of thread %s: %w", events[i].Event.ID, events[i].Event.ThreadID, err)
			}
		}
		if rec.n > 1 {
			w := wire{b: buf}
			runTrailer(&w)
			buf = w.b
		}
		values[r] = buf[start:len(buf):len(buf)]
		o := events[rec.first]
		if key == nil || o.Event.ThreadID != keyThread {
			key, keyThread = sarama.StringEncoder(o.Event.ThreadID), o.Event.ThreadID
		}
		if r == 0 || !o.Trace.Equal(traced) {
			headers, traced = TraceHeaders(ctx, o.Trace), o.Trace
		}
		pms[r] = sarama.ProducerMessage{Topic: topic, Partition: partition, Key: key, Headers: headers, Value: &values[r]}
	}
	msgs := make([]*sarama.ProducerMessage, len(pms))
	for i := range pms {
		msgs[i] = &pms[i]
	}
	return msgs, nil
}

// runLength is how many of events, from the first, share its record: the
// first alone unless it is imported, then as many following imported
// events of the same thread and request as the bounds allow.
func runLength(events []Outgoing, sizes []int) int {
	first := events[0]
	if !first.Event.Imported {
		return 1
	}
	n, size := 1, sizes[0]
	for n < len(events) && n < MaxRunEvents {
		e := events[n]
		if !e.Event.Imported || e.Event.ThreadID != first.Event.ThreadID || !e.Trace.Equal(first.Trace) {
			break
		}
		if size += sizes[n]; size > maxRunBytes {
			break
		}
		n++
	}
	return n
}

// An imported run's record is the envelope of an ImportedRun: its thread,
// the version of its last event, the events (each as it is encoded alone)
// and imported.

// runEventsSize is the size of the ImportedRun of events of those sizes.
func runEventsSize(sizes []int) int {
	n := 0
	for _, s := range sizes {
		n += protowire.SizeTag(fieldRunEvents) + protowire.SizeBytes(s)
	}
	return n
}

// runSize is the size of the record of a run, last its last event.
func runSize(last domain.Event, sizes []int) int {
	w := wire{sizing: true}
	runHeader(&w, &last, sizes)
	runTrailer(&w)
	return w.n
}

// appendRunHeader appends a run's record up to its first event; the events
// follow, each as field ImportedRun.events, then the trailer.
func appendRunHeader(b []byte, last domain.Event, sizes []int) []byte {
	w := wire{b: b}
	runHeader(&w, &last, sizes)
	return w.b
}

// runHeader writes the run's thread, its last event's version and the tag
// and length of its ImportedRun.
func runHeader(w *wire, last *domain.Event, sizes []int) {
	w.str(fieldThreadID, last.ThreadID)
	w.uvarint(fieldVersion, last.Version)
	w.header(fieldImportedRun, runEventsSize(sizes))
}

// runTrailer writes what follows the events: imported.
func runTrailer(w *wire) { w.uvarint(fieldImported, 1) }
