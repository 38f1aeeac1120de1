package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

func TestArrivalDecodesTypeThreadVersionAndTime(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 123456789, time.UTC)
	for _, ev := range []*falconv1.AccountEvent{
		{Cursor: "c1", Type: "MessagePosted", ThreadId: "t", Version: 7, OccurredAt: timestamppb.New(at), ActorId: "alice",
			Payload: &falconv1.AccountEvent_MessagePosted{MessagePosted: &falconv1.Message{MessageId: "m", Body: "hello", CreatedAt: timestamppb.New(at)}}},
		{Type: "Heartbeat", Cursor: "c2"},
	} {
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var a arrival
		if err := a.decode(b, map[string]int32{"s": 0, "t": 1}); err != nil {
			t.Fatalf("decode %s: %v", ev.Type, err)
		}
		want := time.Time{}
		if ev.OccurredAt != nil {
			want = ev.OccurredAt.AsTime()
		}
		wantThread := int32(-1)
		if ev.ThreadId == "t" {
			wantThread = 1
		}
		if a.typ != ev.Type || a.thread != wantThread || a.version != ev.Version || !a.occurred.Equal(want) {
			t.Errorf("decoded %q thread %d v%d at %v, want %q thread %d v%d at %v", a.typ, a.thread, a.version, a.occurred,
				ev.Type, wantThread, ev.Version, want)
		}
	}
	var a arrival
	if err := a.decode([]byte{0x12, 0x05, 'a'}, nil); err == nil {
		t.Error("a truncated event decoded without error")
	}
}
