package server

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/grpc/encoding"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// TestCodecWritesWhatProtoMarshalWrites: for random values of every field
// of every message of the API, the codec's bytes are proto.Marshal's, pooled
// or not; a message without generated marshal methods is written by
// protobuf-go.
func TestCodecWritesWhatProtoMarshalWrites(t *testing.T) {
	c := codec{encoding.GetCodecV2(protoCodecName)}
	rng := rand.New(rand.NewPCG(5, 6))
	var messages []proto.Message
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if mt.Descriptor().ParentFile().Package() == "falcon.v1" {
			messages = append(messages, mt.New().Interface())
		}
		return true
	})
	if len(messages) < 20 {
		t.Fatalf("%d messages of falcon.v1 registered; want the API's", len(messages))
	}
	big := &falconv1.ListMessagesResponse{}
	for i := range 200 { // over gRPC's pooling threshold
		big.Messages = append(big.Messages, &falconv1.Message{MessageId: fmt.Sprint(i), Body: "a message", CreatedAt: timestamppb.Now()})
	}
	cases := []proto.Message{big, &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}}
	for _, m := range messages {
		if _, ok := m.(sizedMarshaler); !ok {
			t.Errorf("%T has no generated marshal methods: run make proto", m)
		}
		for range 50 {
			r := m.ProtoReflect().New()
			fill(rng, r, 0)
			cases = append(cases, r.Interface())
		}
	}
	for _, m := range cases {
		want, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Marshal(m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if b := got.Materialize(); !bytes.Equal(b, want) {
			t.Fatalf("%T %v: the codec wrote %x, proto.Marshal %x", m, m, b, want)
		}
		got.Free()
	}
}

// BenchmarkCodecMarshal: a page of 50 messages as gRPC ListMessages answers
// it, by gRPC's proto codec and by the server's.
func BenchmarkCodecMarshal(b *testing.B) {
	page := &falconv1.ListMessagesResponse{NextPageToken: "token"}
	for i := range 50 {
		page.Messages = append(page.Messages, &falconv1.Message{
			MessageId: "01JD00000000000000000000M" + fmt.Sprint(i%10), ThreadId: "01JD0000000000000000000000", SenderId: "alice",
			Body: "a message of ordinary length, with \"quotes\"", CreatedAt: timestamppb.Now(), Version: uint64(i)})
	}
	std := encoding.GetCodecV2(protoCodecName)
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"proto", std}, {"server", codec{std}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := c.codec.Marshal(page)
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
			}
		})
	}
}
