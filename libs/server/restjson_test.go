package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// hotMessages are the answers restJSON writes itself.
func hotMessages() []proto.Message {
	return []proto.Message{
		&falconv1.ListMessagesResponse{}, &falconv1.GetMessageResponse{},
		&falconv1.ListThreadsResponse{}, &falconv1.PostMessageResponse{},
	}
}

// sameJSON reports how restJSON's encoding of m differs from protojson's
// in meaning ("" when it does not).
func sameJSON(t *testing.T, m proto.Message) string {
	t.Helper()
	fast := &restJSON{JSONPb: gatewayJSON()}
	std := gatewayJSON()
	got, err := fast.Marshal(m)
	if err != nil {
		return fmt.Sprintf("restJSON: %v", err)
	}
	want, err := std.Marshal(m)
	if err != nil {
		t.Fatalf("protojson: %v", err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Sprintf("restJSON wrote invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("restJSON wrote\n%s\nprotojson\n%s", got, want)
	}
	back := m.ProtoReflect().New().Interface()
	if err := std.Unmarshal(got, back); err != nil || !proto.Equal(back, m) {
		return fmt.Sprintf("restJSON's %s reads back as %v (%v)", got, back, err)
	}
	return ""
}

// texts are strings JSON must escape or keep as they are.
var texts = []string{"", "plain", `quote " and \ backslash`, "line\nbreak\ttab\rret", "\x00\x01\x1f\x7f", "日本語 🐦 é", "\u2028\u2029", "<script>&</script>"}

// fill sets every field of m, recursively, from rng: what protojson would
// write for each must be what restJSON writes, so a field added to a hot
// message fails here until restJSON writes it.
func fill(rng *rand.Rand, m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if rng.IntN(4) == 0 && depth > 0 { // sometimes left unset
			continue
		}
		if fd.IsMap() {
			mp := m.Mutable(fd).Map()
			for range rng.IntN(3) {
				k := scalar(rng, fd.MapKey()).MapKey()
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					fill(rng, mp.Mutable(k).Message(), depth+1)
				} else {
					mp.Set(k, scalar(rng, fd.MapValue()))
				}
			}
			continue
		}
		if fd.IsList() {
			l := m.Mutable(fd).List()
			for range rng.IntN(3) {
				if fd.Kind() == protoreflect.MessageKind {
					fill(rng, l.AppendMutable().Message(), depth+1)
				} else {
					l.Append(scalar(rng, fd))
				}
			}
			continue
		}
		if fd.Kind() == protoreflect.MessageKind {
			if fd.Message().FullName() == "google.protobuf.Timestamp" {
				ts := timestamppb.New(timestamppb.Now().AsTime().Add(-time.Duration(rng.Int64N(1e15))))
				switch rng.IntN(4) { // every precision protojson chooses between
				case 0:
					ts.Nanos = 0
				case 1:
					ts.Nanos = ts.Nanos / 1e6 * 1e6
				case 2:
					ts.Nanos = ts.Nanos / 1e3 * 1e3
				}
				m.Set(fd, protoreflect.ValueOfMessage(ts.ProtoReflect()))
				continue
			}
			fill(rng, m.Mutable(fd).Message(), depth+1)
			continue
		}
		m.Set(fd, scalar(rng, fd))
	}
}

func scalar(rng *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(texts[rng.IntN(len(texts))] + strings.Repeat("x", rng.IntN(3)))
	case protoreflect.Uint64Kind:
		return protoreflect.ValueOfUint64([]uint64{0, 1, 1 << 53, 1<<64 - 1, rng.Uint64()}[rng.IntN(5)])
	case protoreflect.Uint32Kind:
		return protoreflect.ValueOfUint32([]uint32{0, 1, 1<<32 - 1, rng.Uint32()}[rng.IntN(4)])
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(rng.IntN(2) == 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32([]int32{0, 1, -1, 1<<31 - 1, -1 << 31, rng.Int32()}[rng.IntN(6)])
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64([]int64{0, 1, -1, 1<<63 - 1, -1 << 63, rng.Int64()}[rng.IntN(6)])
	case protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(rng.Uint32())
	case protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(rng.Uint64())
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		return protoreflect.ValueOfEnum(values.Get(rng.IntN(values.Len())).Number())
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(texts[rng.IntN(len(texts))]))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(rng.NormFloat64())
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(rng.NormFloat64()))
	}
	panic(fmt.Sprintf("fill: field %s of kind %s: teach the test (and restJSON) this kind", fd.FullName(), fd.Kind()))
}

// TestRESTJSONMatchesProtojson: the hot answers mean the same in
// restJSON's encoding as in protojson's, for random values of every field.
func TestRESTJSONMatchesProtojson(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, proto := range hotMessages() {
		for i := range 300 {
			m := proto.ProtoReflect().New()
			fill(rng, m, 0)
			if diff := sameJSON(t, m.Interface()); diff != "" {
				t.Fatalf("%s, case %d: %s", m.Descriptor().FullName(), i, diff)
			}
		}
		if diff := sameJSON(t, proto.ProtoReflect().New().Interface()); diff != "" {
			t.Fatalf("empty %T: %s", proto, diff)
		}
	}
}

// TestRESTJSONRefusesAsProtojson: what protojson refuses (text that is not
// UTF-8, a timestamp out of range) is refused the same, not written.
func TestRESTJSONRefusesAsProtojson(t *testing.T) {
	fast := &restJSON{JSONPb: gatewayJSON()}
	for _, m := range []proto.Message{
		&falconv1.GetMessageResponse{Message: &falconv1.Message{Body: "bad \xff byte"}},
		&falconv1.ListThreadsResponse{Threads: []*falconv1.ThreadSummary{{Title: "\xc3"}}},
		&falconv1.ListMessagesResponse{Messages: []*falconv1.Message{{CreatedAt: &timestamppb.Timestamp{Seconds: maxTimestamp + 1}}}},
		&falconv1.ListMessagesResponse{Messages: []*falconv1.Message{{EditedAt: &timestamppb.Timestamp{Nanos: -1}}}},
	} {
		if b, err := fast.Marshal(m); err == nil {
			t.Errorf("%v: wrote %s, want protojson's error", m, b)
		}
	}
}

// BenchmarkRESTJSON: a page of 50 messages, as REST ListMessages answers.
func BenchmarkRESTJSON(b *testing.B) {
	page := &falconv1.ListMessagesResponse{NextPageToken: "token"}
	for i := range 50 {
		page.Messages = append(page.Messages, &falconv1.Message{
			MessageId: "01JD00000000000000000000M" + fmt.Sprint(i%10), ThreadId: "01JD0000000000000000000000", SenderId: "alice",
			Body: "a message of ordinary length, with \"quotes\"", CreatedAt: timestamppb.Now(), Version: uint64(i)})
	}
	std := gatewayJSON()
	for _, c := range []struct {
		name string
		m    interface{ Marshal(any) ([]byte, error) }
	}{{"protojson", &std}, {"restJSON", &restJSON{JSONPb: gatewayJSON()}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.m.Marshal(page); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRESTJSONTimestampsOverTheirRange: a timestamp is written as protojson
// writes it from year 1 to year 9999, at every precision.
func TestRESTJSONTimestampsOverTheirRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	seconds := []int64{minTimestamp, maxTimestamp, 0, -1, 951782400 /* 2000-02-29 */, 4107542400 /* 2100-03-01 */}
	for range 2000 {
		seconds = append(seconds, minTimestamp+rng.Int64N(maxTimestamp-minTimestamp+1))
	}
	for i, sec := range seconds {
		nanos := []int32{0, 1, 999_999_999, 5_000_000, 120_000, rng.Int32N(1e9)}[i%6]
		m := &falconv1.GetMessageResponse{Message: &falconv1.Message{CreatedAt: &timestamppb.Timestamp{Seconds: sec, Nanos: nanos}}}
		if diff := sameJSON(t, m); diff != "" {
			t.Fatalf("%d s %d ns: %s", sec, nanos, diff)
		}
	}
}
