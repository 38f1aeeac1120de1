package forwarder

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// TestPayloadsMatchThePublishedSchema builds the delivery of every event
// type and validates it against docs/legacy-payload.schema.json, the
// contract the legacy side codes against.
func TestPayloadsMatchThePublishedSchema(t *testing.T) {
	raw, err := os.ReadFile("../../../docs/legacy-payload.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("legacy-payload.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("legacy-payload.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	payloads := newTestPayloads(t)
	events := testenv.EveryEventType(t)
	seen := map[string]bool{}
	for _, e := range events {
		env, err := eventlog.ToProto(e)
		if err != nil {
			t.Fatal(err)
		}
		body, eventType, _ := payloads.Payload(env)
		seen[eventType] = true
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(v); err != nil {
			t.Errorf("%s payload %s does not match the schema: %v", eventType, body, err)
		}
	}
	if len(seen) != 11 {
		t.Fatalf("checked %d event types, want all 11: %v", len(seen), seen)
	}
	// The schema must be able to refuse: a MessagePosted without its body.
	var bad map[string]any
	env, _ := eventlog.ToProto(events[6])
	body, _, _ := payloads.Payload(env)
	_ = json.Unmarshal(body, &bad)
	delete(bad, "body")
	if err := schema.Validate(bad); err == nil {
		t.Fatal("a MessagePosted without body passed the schema")
	}
}
