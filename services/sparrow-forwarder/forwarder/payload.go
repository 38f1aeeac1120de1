package forwarder

import (
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/falcon-chat/falcon/libs/legacycontract"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// payloads writes the JSON object delivered to the legacy system for one
// event, as docs/legacy-payload.md describes it: schemaVersion, the
// envelope's fields (eventId, eventType, threadId, threadNumber, version,
// occurredAt, actorId, requestId, correlationId) and the event's own fields
// in protojson's lowerCamelCase, every field of the event written (empty
// ones too) except an unset optional one, 64-bit integers as numbers, keys
// in sorted order.
//
// It writes straight from the envelope, with each event type's keys worked
// out once from the schema: building a map through protojson and
// encoding/json cost the forwarder a third of its CPU.
type payloads struct {
	oneof protoreflect.OneofDescriptor
	plans map[protoreflect.FieldNumber]payloadPlan
}

// payloadPlan is one event type's keys, in the order they are written.
type payloadPlan struct {
	eventType string
	keys      []payloadKey
}

// payloadKey is one key of a delivery. A key the envelope and the event
// both have (threadNumber of ThreadCreated) takes the envelope's value
// when the envelope has one.
type payloadKey struct {
	name  string                       // quoted, with its colon
	env   envelopeField                // the envelope's value, if any
	field protoreflect.FieldDescriptor // the event's value, if any
}

type envelopeField int

const (
	noEnvelopeField envelopeField = iota
	envSchemaVersion
	envEventID
	envEventType
	envThreadID
	envVersion
	envOccurredAt
	envActorID
	envRequestID
	envCorrelationID // only when set
	envThreadNumber  // only when not 0
)

// newPayloads works out the keys of every event type the envelope can
// carry (but a run of imported events). It fails on an event field of a kind the contract does not say how
// to write (a message, an enum, bytes, a float): such a field needs a
// decision in docs/legacy-payload.md first.
func newPayloads() (*payloads, error) {
	env := (&falconv1.EventEnvelope{}).ProtoReflect().Descriptor()
	p := &payloads{oneof: env.Oneofs().ByName("payload"), plans: map[protoreflect.FieldNumber]payloadPlan{}}
	run := (&falconv1.ImportedRun{}).ProtoReflect().Descriptor().FullName()
	fields := p.oneof.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Message().FullName() == run {
			continue // the legacy system's own history, never delivered back
		}
		plan, err := planOf(f.Message())
		if err != nil {
			return nil, err
		}
		p.plans[f.Number()] = plan
	}
	return p, nil
}

func planOf(event protoreflect.MessageDescriptor) (payloadPlan, error) {
	byName := map[string]*payloadKey{
		"schemaVersion": {env: envSchemaVersion}, "eventId": {env: envEventID}, "eventType": {env: envEventType},
		"threadId": {env: envThreadID}, "version": {env: envVersion}, "occurredAt": {env: envOccurredAt},
		"actorId": {env: envActorID}, "requestId": {env: envRequestID}, "correlationId": {env: envCorrelationID},
		"threadNumber": {env: envThreadNumber},
	}
	fields := event.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if !writable(f) {
			return payloadPlan{}, fmt.Errorf("event %s: field %s is a %s%s, which the legacy payload has no form for",
				event.Name(), f.Name(), listOf(f), f.Kind())
		}
		k := byName[f.JSONName()]
		if k == nil {
			k = &payloadKey{}
			byName[f.JSONName()] = k
		}
		k.field = f
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names) // encoding/json's order for a map, which the contract's examples have
	plan := payloadPlan{eventType: string(event.Name())}
	for _, n := range names {
		k := byName[n]
		k.name = strconv.Quote(n) + ":"
		plan.keys = append(plan.keys, *k)
	}
	return plan, nil
}

func writable(f protoreflect.FieldDescriptor) bool {
	switch f.Kind() {
	case protoreflect.StringKind:
		return true // a list of strings too
	case protoreflect.Uint64Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Int32Kind, protoreflect.BoolKind:
		return !f.IsList()
	}
	return false
}

func listOf(f protoreflect.FieldDescriptor) string {
	if f.IsList() {
		return "list of "
	}
	return ""
}

// Payload builds the delivery of env, and names its event type. It reports
// ok=false for an envelope without an event or with an event type this
// build does not know.
func (p *payloads) Payload(env *falconv1.EventEnvelope) (body []byte, eventType string, ok bool) {
	m := env.ProtoReflect()
	field := m.WhichOneof(p.oneof)
	if field == nil {
		return nil, "", false
	}
	plan, ok := p.plans[field.Number()]
	if !ok {
		return nil, "", false
	}
	event := m.Get(field).Message()
	b := make([]byte, 0, 256+len(env.GetMessagePosted().GetBody())+len(env.GetMessageEdited().GetBody()))
	b = append(b, '{')
	for _, k := range plan.keys {
		start := len(b)
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, k.name...)
		if wrote, ok := appendEnvelopeField(b, k.env, env, plan.eventType); ok {
			b = wrote
			continue
		}
		if k.field == nil || (k.field.HasPresence() && !event.Has(k.field)) {
			b = b[:start] // neither has it
			continue
		}
		b = appendField(b, k.field, event.Get(k.field))
	}
	return append(b, '}'), plan.eventType, true
}

func appendEnvelopeField(b []byte, f envelopeField, env *falconv1.EventEnvelope, eventType string) ([]byte, bool) {
	switch f {
	case envSchemaVersion:
		return strconv.AppendInt(b, legacycontract.SchemaVersion, 10), true
	case envEventID:
		return appendJSONString(b, env.GetEventId()), true
	case envEventType:
		return appendJSONString(b, eventType), true
	case envThreadID:
		return appendJSONString(b, env.GetThreadId()), true
	case envVersion:
		return strconv.AppendUint(b, env.GetVersion(), 10), true
	case envOccurredAt:
		b = append(b, '"')
		b = env.GetOccurredAt().AsTime().AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
		return append(b, '"'), true
	case envActorID:
		return appendJSONString(b, env.GetActorId()), true
	case envRequestID:
		return appendJSONString(b, env.GetRequestId()), true
	case envCorrelationID:
		if env.GetCorrelationId() != "" {
			return appendJSONString(b, env.GetCorrelationId()), true
		}
	case envThreadNumber:
		if env.GetThreadNumber() != 0 {
			return strconv.AppendUint(b, env.GetThreadNumber(), 10), true
		}
	}
	return b, false
}

// appendField writes a field of a kind writable accepts.
func appendField(b []byte, f protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	if f.IsList() {
		l := v.List()
		b = append(b, '[')
		for i := range l.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, l.Get(i).String())
		}
		return append(b, ']')
	}
	switch f.Kind() {
	case protoreflect.StringKind:
		return appendJSONString(b, v.String())
	case protoreflect.Uint64Kind, protoreflect.Uint32Kind:
		return strconv.AppendUint(b, v.Uint(), 10)
	case protoreflect.Int64Kind, protoreflect.Int32Kind:
		return strconv.AppendInt(b, v.Int(), 10)
	default: // BoolKind
		return strconv.AppendBool(b, v.Bool())
	}
}

// appendJSONString writes s as encoding/json writes a string: quotes,
// backslashes and control characters escaped (\b \f \n \r \t short), <, >
// and & escaped for HTML, U+2028 and U+2029 escaped for JavaScript, and
// invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
