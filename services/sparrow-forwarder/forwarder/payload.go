package forwarder

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/falcon-chat/falcon/libs/legacycontract"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// Payload builds the JSON object delivered to the legacy system for one
// event, as docs/legacy-payload.md describes it: schemaVersion, the
// envelope's fields (eventId, eventType, threadId, threadNumber, version,
// occurredAt, actorId, requestId, correlationId) and the event's own fields, in
// protojson's lowerCamelCase. It reports ok=false for an event type this
// build does not know.
func Payload(env *falconv1.EventEnvelope) (body []byte, eventType string, ok bool, err error) {
	oneof := env.ProtoReflect().Descriptor().Oneofs().ByName("payload")
	field := env.ProtoReflect().WhichOneof(oneof)
	if field == nil {
		return nil, "", false, nil
	}
	event := env.ProtoReflect().Get(field).Message().Interface()
	eventType = string(field.Message().Name())
	fields, err := fieldsOf(event)
	if err != nil {
		return nil, "", false, fmt.Errorf("event %s: %w", env.GetEventId(), err)
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
	body, err = json.Marshal(fields)
	return body, eventType, true, err
}

func fieldsOf(m proto.Message) (map[string]any, error) {
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	// protojson writes 64-bit integers as strings; the legacy contract has
	// them as numbers, like version.
	fields := m.ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Cardinality() != protoreflect.Repeated && (f.Kind() == protoreflect.Uint64Kind || f.Kind() == protoreflect.Int64Kind) {
			out[f.JSONName()] = m.ProtoReflect().Get(f).Interface()
		}
	}
	return out, nil
}
