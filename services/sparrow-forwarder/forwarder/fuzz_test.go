package forwarder

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// FuzzPayload: whatever envelope the log holds, the legacy payload is
// valid JSON carrying the envelope's identity and every string exactly,
// or the event is skipped or refused with an error; never a panic or a
// body the legacy side cannot parse.
func FuzzPayload(f *testing.F) {
	for _, e := range testenv.EveryEventType(f) {
		env, err := eventlog.ToProto(e)
		if err != nil {
			f.Fatal(err)
		}
		b, err := proto.Marshal(env)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	payloads := newTestPayloads(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var env falconv1.EventEnvelope
		if proto.Unmarshal(b, &env) != nil {
			return
		}
		body, eventType, ok := payloads.Payload(&env)
		if !ok {
			return
		}
		if want, _, err := payloadThroughMaps(&env); err == nil && !bytes.Equal(body, want) {
			t.Fatalf("payload\n %s\nis not what the map encoding made:\n %s", body, want)
		}
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("payload of %s is not JSON: %v\n%s", eventType, err, body)
		}
		if got["eventId"] != env.GetEventId() || got["threadId"] != env.GetThreadId() || got["actorId"] != env.GetActorId() || got["eventType"] != eventType {
			t.Fatalf("payload %s does not carry the envelope's identity", body)
		}
		if mp := env.GetMessagePosted(); mp != nil && got["body"] != mp.GetBody() {
			t.Fatalf("payload body %q, event body %q", got["body"], mp.GetBody())
		}
	})
}
