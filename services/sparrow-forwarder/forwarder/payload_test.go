package forwarder

import (
	"encoding/json"
	"flag"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

func flagSet() *flag.FlagSet { return flag.NewFlagSet("test", flag.ContinueOnError) }

func TestPayloadCarriesEnvelopeAndEventFields(t *testing.T) {
	title := "new"
	cases := []struct {
		payload domain.Payload
		fields  map[string]any
	}{
		{domain.ThreadCreated{Title: "t", MemberIDs: []string{"a", "b"}}, map[string]any{"title": "t", "memberIds": []any{"a", "b"}}},
		{domain.ThreadUpdated{Title: &title}, map[string]any{"title": "new"}},
		{domain.ThreadDestroyed{}, nil},
		{domain.MembersAdded{AccountIDs: []string{"c"}}, map[string]any{"accountIds": []any{"c"}}},
		{domain.MembersRemoved{AccountIDs: []string{"c"}}, map[string]any{"accountIds": []any{"c"}}},
		{domain.AdministratorsAdded{AccountIDs: []string{"c"}}, map[string]any{"accountIds": []any{"c"}}},
		{domain.AdministratorsRemoved{AccountIDs: []string{"c"}}, map[string]any{"accountIds": []any{"c"}}},
		{domain.MessagePosted{MessageID: "m", Body: "hi"}, map[string]any{"messageId": "m", "body": "hi"}},
		{domain.MessageEdited{MessageID: "m", Body: "hi!"}, map[string]any{"messageId": "m", "body": "hi!"}},
		{domain.MessageDeleted{MessageID: "m"}, map[string]any{"messageId": "m"}},
	}
	for _, tc := range cases {
		t.Run(tc.payload.EventType(), func(t *testing.T) {
			env, err := eventlog.ToProto(domain.Event{ID: "e1", ThreadID: "t1", Version: 3, ActorID: "alice", RequestID: "r1",
				OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Payload: tc.payload})
			if err != nil {
				t.Fatal(err)
			}
			body, eventType, ok, err := Payload(env)
			if err != nil || !ok || eventType != tc.payload.EventType() {
				t.Fatalf("Payload: type %q ok %v err %v", eventType, ok, err)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"eventId": "e1", "eventType": tc.payload.EventType(), "threadId": "t1", "version": float64(3),
				"actorId": "alice", "requestId": "r1", "schemaVersion": float64(1), "occurredAt": "2026-01-02T03:04:05.000000000Z"}
			for k, v := range tc.fields {
				want[k] = v
			}
			for k, v := range want {
				gb, _ := json.Marshal(got[k])
				wb, _ := json.Marshal(v)
				if string(gb) != string(wb) {
					t.Errorf("%s = %s, want %s", k, gb, wb)
				}
			}
		})
	}
	if _, _, ok, _ := Payload(&falconv1.EventEnvelope{EventId: "x"}); ok {
		t.Fatal("an envelope without a payload was deliverable")
	}
}
