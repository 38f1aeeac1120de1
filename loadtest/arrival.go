package main

import (
	"fmt"
	"time"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// arrival is what the push scenario reads of an AccountEvent: its type,
// thread (as its position among the scenario's threads, -1 for another)
// and version, and when it occurred. The generator shares the machine with
// the server, so it decodes only these, not the whole event, and keeps no
// string of its own per event.
type arrival struct {
	typ      string
	thread   int32
	version  uint64
	occurred time.Time
}

// Field numbers of falcon.v1.AccountEvent and google.protobuf.Timestamp.
const (
	accountEventType       = 2
	accountEventThreadID   = 4
	accountEventVersion    = 5
	accountEventOccurredAt = 6
	timestampSeconds       = 1
	timestampNanos         = 2
)

// arrivalCodec is the proto codec, but decodes into an *arrival by reading
// only its fields; anything else goes to the proto codec. threads gives
// each thread id its position.
type arrivalCodec struct {
	proto   encoding.CodecV2
	threads map[string]int32
}

func newArrivalCodec(threads map[string]int32) arrivalCodec {
	return arrivalCodec{proto: encoding.GetCodecV2("proto"), threads: threads}
}

func (c arrivalCodec) Name() string { return c.proto.Name() }

func (c arrivalCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c arrivalCodec) Unmarshal(data mem.BufferSlice, v any) error {
	a, ok := v.(*arrival)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return a.decode(buf.ReadOnlyData(), c.threads)
}

func (a *arrival) decode(b []byte, threads map[string]int32) error {
	*a = arrival{thread: -1}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("account event: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var (
			field []byte
			value uint64
		)
		switch typ {
		case protowire.BytesType:
			field, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			value, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("account event field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == accountEventType && typ == protowire.BytesType:
			a.typ = string(field)
		case num == accountEventThreadID && typ == protowire.BytesType:
			if i, ok := threads[string(field)]; ok {
				a.thread = i
			}
		case num == accountEventVersion && typ == protowire.VarintType:
			a.version = value
		case num == accountEventOccurredAt && typ == protowire.BytesType:
			t, err := decodeTimestamp(field)
			if err != nil {
				return err
			}
			a.occurred = t
		}
	}
	return nil
}

func decodeTimestamp(b []byte) (time.Time, error) {
	var sec, nsec int64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return time.Time{}, fmt.Errorf("timestamp: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.VarintType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return time.Time{}, fmt.Errorf("timestamp field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return time.Time{}, fmt.Errorf("timestamp field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case timestampSeconds:
			sec = int64(v)
		case timestampNanos:
			nsec = int64(v)
		}
	}
	return time.Unix(sec, nsec), nil
}
