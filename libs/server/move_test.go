package server

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

func listOf(n int) *falconv1.ListMessagesResponse {
	at := timestamppb.New(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	resp := &falconv1.ListMessagesResponse{NextPageToken: "next"}
	for i := range n {
		resp.Messages = append(resp.Messages, &falconv1.Message{
			MessageId: fmt.Sprintf("m%d", i), ThreadId: "t", SenderId: "alice",
			Body: "hello, 世界", MentionAccountIds: []string{"bob", "carol"},
			CreatedAt: at, Version: uint64(i + 1), MessageNumber: uint64(i + 1),
		})
	}
	return resp
}

// TestMoveInto: what the gateway receives from an in-process call equals
// what the handler answered, whatever the shape (lists of messages,
// repeated strings, a oneof, unknown fields), and a message of another
// type is refused rather than half copied.
func TestMoveInto(t *testing.T) {
	withUnknown := &falconv1.GetThreadRequest{ThreadId: "t"}
	withUnknown.ProtoReflect().SetUnknown([]byte{0xf8, 0x3e, 0x01}) // field 999, varint 1
	cases := []struct {
		name     string
		src, dst proto.Message
	}{
		{"a page of messages", listOf(50), &falconv1.ListMessagesResponse{}},
		{"an empty answer", &falconv1.ListMessagesResponse{}, &falconv1.ListMessagesResponse{}},
		{"a oneof", &falconv1.AccountEvent{Cursor: "c", Type: "MessagePosted",
			Payload: &falconv1.AccountEvent_MessagePosted{MessagePosted: listOf(1).Messages[0]}}, &falconv1.AccountEvent{}},
		{"unknown fields", withUnknown, &falconv1.GetThreadRequest{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := proto.Clone(c.src)
			if err := moveInto(c.dst, c.src); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(c.dst, want) {
				t.Fatalf("moved %v, want %v", c.dst, want)
			}
		})
	}
	err := moveInto(&falconv1.GetThreadResponse{}, listOf(1))
	if err == nil {
		t.Fatal("a ListMessagesResponse moved into a GetThreadResponse")
	}
}

// BenchmarkMoveInto against BenchmarkMergeInto: handing a page of 50
// messages from the handler to the gateway.
func BenchmarkMoveInto(b *testing.B) {
	src := listOf(50)
	b.ReportAllocs()
	for b.Loop() {
		if err := moveInto(&falconv1.ListMessagesResponse{}, src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMergeInto(b *testing.B) {
	src := listOf(50)
	b.ReportAllocs()
	for b.Loop() {
		proto.Merge(&falconv1.ListMessagesResponse{}, src)
	}
}
