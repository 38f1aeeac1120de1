package stream

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// render is the protobuf encoding of the event as subscribers see it,
// without its cursor (Event.AppendWire adds it): made once per event, not
// once per subscriber.
func render(e domain.Event) ([]byte, error) {
	ae, err := accountEvent(e)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(ae)
}

// accountEvent is the event as subscribers see it, without its cursor: the
// payloads of the event log, and a posted message as GetMessage shows it.
func accountEvent(e domain.Event) (*falconv1.AccountEvent, error) {
	env, err := eventlog.ToProto(e)
	if err != nil {
		return nil, err
	}
	ae := &falconv1.AccountEvent{
		Type: e.Payload.EventType(), EventId: e.ID, ThreadId: e.ThreadID, Version: e.Version,
		OccurredAt: timestamppb.New(e.OccurredAt), ActorId: e.ActorID,
	}
	switch p := env.Payload.(type) {
	case *falconv1.EventEnvelope_ThreadCreated:
		ae.Payload = &falconv1.AccountEvent_ThreadCreated{ThreadCreated: p.ThreadCreated}
	case *falconv1.EventEnvelope_ThreadUpdated:
		ae.Payload = &falconv1.AccountEvent_ThreadUpdated{ThreadUpdated: p.ThreadUpdated}
	case *falconv1.EventEnvelope_ThreadDestroyed:
		ae.Payload = &falconv1.AccountEvent_ThreadDestroyed{ThreadDestroyed: p.ThreadDestroyed}
	case *falconv1.EventEnvelope_MembersAdded:
		ae.Payload = &falconv1.AccountEvent_MembersAdded{MembersAdded: p.MembersAdded}
	case *falconv1.EventEnvelope_MembersRemoved:
		ae.Payload = &falconv1.AccountEvent_MembersRemoved{MembersRemoved: p.MembersRemoved}
	case *falconv1.EventEnvelope_AdministratorsAdded:
		ae.Payload = &falconv1.AccountEvent_AdministratorsAdded{AdministratorsAdded: p.AdministratorsAdded}
	case *falconv1.EventEnvelope_AdministratorsRemoved:
		ae.Payload = &falconv1.AccountEvent_AdministratorsRemoved{AdministratorsRemoved: p.AdministratorsRemoved}
	case *falconv1.EventEnvelope_MessagePosted:
		m := p.MessagePosted
		ae.Payload = &falconv1.AccountEvent_MessagePosted{MessagePosted: &falconv1.Message{
			MessageId: m.MessageId, ThreadId: e.ThreadID, SenderId: e.ActorID, Body: m.Body,
			ReplyToMessageId: m.ReplyToMessageId, MentionAccountIds: m.MentionAccountIds,
			CreatedAt: ae.OccurredAt, Version: e.Version,
			MessageNumber: m.MessageNumber, ReplyToMessageNumber: m.ReplyToMessageNumber,
		}}
	case *falconv1.EventEnvelope_MessageEdited:
		ae.Payload = &falconv1.AccountEvent_MessageEdited{MessageEdited: p.MessageEdited}
	case *falconv1.EventEnvelope_MessageDeleted:
		ae.Payload = &falconv1.AccountEvent_MessageDeleted{MessageDeleted: p.MessageDeleted}
	case *falconv1.EventEnvelope_ReadMarkerMoved:
		ae.Payload = &falconv1.AccountEvent_ReadMarkerMoved{ReadMarkerMoved: p.ReadMarkerMoved}
	default:
		return nil, fmt.Errorf("event %s of type %s has no stream form", e.ID, e.Payload.EventType())
	}
	return ae, nil
}
