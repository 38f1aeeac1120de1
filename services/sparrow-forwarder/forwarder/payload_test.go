package forwarder

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/legacycontract"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

func flagSet() *flag.FlagSet { return flag.NewFlagSet("test", flag.ContinueOnError) }

func newTestPayloads(t testing.TB) *payloads {
	t.Helper()
	p, err := newPayloads()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

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
	payloads := newTestPayloads(t)
	for _, tc := range cases {
		t.Run(tc.payload.EventType(), func(t *testing.T) {
			env, err := eventlog.ToProto(domain.Event{ID: "e1", ThreadID: "t1", Version: 3, ActorID: "alice", RequestID: "r1",
				OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Payload: tc.payload})
			if err != nil {
				t.Fatal(err)
			}
			body, eventType, ok := payloads.Payload(env)
			if !ok || eventType != tc.payload.EventType() {
				t.Fatalf("Payload: type %q ok %v", eventType, ok)
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
	if _, _, ok := payloads.Payload(&falconv1.EventEnvelope{EventId: "x"}); ok {
		t.Fatal("an envelope without a payload was deliverable")
	}
}

// TestPayloadIsWhatTheMapEncodingWas holds the direct encoder to the bytes
// the forwarder delivered before it (protojson into a map, 64-bit integers
// made numbers, the envelope's fields over the event's, encoding/json), for
// random values of every field of every event type: strings full of what
// JSON escapes, optional fields set and unset, empty and long lists.
func TestPayloadIsWhatTheMapEncodingWas(t *testing.T) {
	payloads := newTestPayloads(t)
	rng := rand.New(rand.NewPCG(1, 2))
	events := testenv.EveryEventType(t)
	for i := range 3000 {
		env, err := eventlog.ToProto(events[i%len(events)])
		if err != nil {
			t.Fatal(err)
		}
		randomize(rng, env.ProtoReflect())
		want, wantType, err := payloadThroughMaps(env)
		if err != nil {
			t.Fatal(err)
		}
		got, gotType, ok := payloads.Payload(env)
		if !ok || gotType != wantType || !bytes.Equal(got, want) {
			t.Fatalf("%s (ok %v):\n got %s\nwant %s", wantType, ok, got, want)
		}
	}
}

// randomize sets every field of m, recursively, to a random value; an
// optional field is left unset now and then.
func randomize(rng *rand.Rand, m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.ContainingOneof() != nil && !f.ContainingOneof().IsSynthetic() {
			if m.Has(f) && f.Kind() == protoreflect.MessageKind {
				randomize(rng, m.Mutable(f).Message())
			}
			continue
		}
		if f.HasPresence() && f.Kind() != protoreflect.MessageKind && rng.IntN(3) == 0 {
			m.Clear(f)
			continue
		}
		switch {
		case f.IsList() && f.Kind() == protoreflect.StringKind:
			l := m.Mutable(f).List()
			l.Truncate(0)
			for range rng.IntN(4) {
				l.Append(protoreflect.ValueOfString(randomString(rng)))
			}
		case f.IsList() || f.IsMap() || f.Kind() == protoreflect.MessageKind:
			// occurred_at and the like: what ToProto made
		case f.Kind() == protoreflect.StringKind:
			m.Set(f, protoreflect.ValueOfString(randomString(rng)))
		case f.Kind() == protoreflect.Uint64Kind:
			m.Set(f, protoreflect.ValueOfUint64([]uint64{0, 1, rng.Uint64(), math.MaxUint64}[rng.IntN(4)]))
		case f.Kind() == protoreflect.BoolKind:
			m.Set(f, protoreflect.ValueOfBool(rng.IntN(2) == 0))
		}
	}
}

func randomString(rng *rand.Rand) string {
	pieces := []string{"", "a", "Zq9", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f", " ", "<", ">", "&", "'", "\"", "\\",
		"/", "é", "日本語", "😀", "\u2028", "\u2029", "\u00a0", "\ufeff", "\U0010ffff"}
	var b strings.Builder
	for range rng.IntN(8) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// payloadThroughMaps is how the forwarder built a delivery before
// payloads: the reference the direct encoder is held to.
func payloadThroughMaps(env *falconv1.EventEnvelope) ([]byte, string, error) {
	field := env.ProtoReflect().WhichOneof(env.ProtoReflect().Descriptor().Oneofs().ByName("payload"))
	event := env.ProtoReflect().Get(field).Message().Interface()
	eventType := string(field.Message().Name())
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(event)
	if err != nil {
		return nil, "", err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, "", err
	}
	desc := event.ProtoReflect().Descriptor().Fields()
	for i := range desc.Len() {
		f := desc.Get(i)
		if f.Cardinality() != protoreflect.Repeated && (f.Kind() == protoreflect.Uint64Kind || f.Kind() == protoreflect.Int64Kind) {
			fields[f.JSONName()] = event.ProtoReflect().Get(f).Interface()
		}
	}
	fields["schemaVersion"] = legacycontract.SchemaVersion
	fields["eventId"] = env.GetEventId()
	fields["eventType"] = eventType
	fields["threadId"] = env.GetThreadId()
	fields["version"] = env.GetVersion()
	fields["occurredAt"] = env.GetOccurredAt().AsTime().Format("2006-01-02T15:04:05.000000000Z07:00")
	fields["actorId"] = env.GetActorId()
	fields["requestId"] = env.GetRequestId()
	if env.GetCorrelationId() != "" {
		fields["correlationId"] = env.GetCorrelationId()
	}
	if env.GetThreadNumber() != 0 {
		fields["threadNumber"] = env.GetThreadNumber()
	}
	body, err := json.Marshal(fields)
	return body, eventType, err
}

func TestPayloadsRefuseAFieldTheContractHasNoFormFor(t *testing.T) {
	for _, m := range []proto.Message{&falconv1.EventEnvelope{}, &falconv1.ImportedRun{}} {
		if _, err := planOf(m.ProtoReflect().Descriptor()); err == nil {
			t.Errorf("%s: a plan for a message with message-typed fields", m.ProtoReflect().Descriptor().Name())
		}
	}
}

func BenchmarkPayload(b *testing.B) {
	payloads := newTestPayloads(b)
	env, err := eventlog.ToProto(testenv.EveryEventType(b)[6]) // MessagePosted
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := payloads.Payload(env); !ok {
			b.Fatal("not deliverable")
		}
	}
}
