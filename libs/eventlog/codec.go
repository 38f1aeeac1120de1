// Package eventlog is the thread event log on Kafka: the record codec, the
// partitioner every service agrees on, topic management and read-committed
// replay.
package eventlog

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/domain"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// ErrUnknownEvent marks a record whose payload this build does not know. The
// schema only ever grows, so consumers skip such records.
var ErrUnknownEvent = errors.New("unknown event type")

// Encode turns an event into a record value.
func Encode(e domain.Event) ([]byte, error) {
	env, err := ToProto(e)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(env)
}

// Decode parses the value of a record of one event. A payload this build
// does not know gives an error wrapping ErrUnknownEvent, with the envelope's
// fields filled in. Consumers of the log use DecodeEvents: a record may
// hold a run of imported events.
func Decode(b []byte) (domain.Event, error) {
	var env falconv1.EventEnvelope
	if err := proto.Unmarshal(b, &env); err != nil {
		return domain.Event{}, fmt.Errorf("decode event envelope: %w", err)
	}
	if run := env.GetImportedRun(); run != nil {
		return domain.Event{}, fmt.Errorf("the record holds a run of %d imported events of thread %s, not one event", len(run.GetEvents()), env.GetThreadId())
	}
	return FromProto(&env)
}

// DecodeEvents parses a record value and calls fn with each event it
// holds, in order: its one event, or each event of an imported run. fn's
// err is nil, or wraps ErrUnknownEvent for a payload this build does not
// know (the event then has its envelope's fields). A value that does not
// parse is DecodeEvents' error, before any call; an error of fn stops it
// and is returned.
func DecodeEvents(b []byte, fn func(e domain.Event, err error) error) error {
	var env falconv1.EventEnvelope
	if err := proto.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("decode event envelope: %w", err)
	}
	run := env.GetImportedRun()
	if run == nil {
		return fn(FromProto(&env))
	}
	for _, inner := range run.GetEvents() {
		if err := fn(FromProto(inner)); err != nil {
			return err
		}
	}
	return nil
}

// CountEvents is how many events a record value holds, without decoding
// them: the events of an imported run, otherwise one (also for a value
// that does not parse, which a consumer counts as one it skips).
func CountEvents(b []byte) int {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 1
		}
		b = b[n:]
		if num == fieldImportedRun && typ == protowire.BytesType {
			run, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 1
			}
			return countRunEvents(run)
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return 1
		}
		b = b[n:]
	}
	return 1
}

func countRunEvents(run []byte) int {
	events := 0
	for len(run) > 0 {
		num, typ, n := protowire.ConsumeTag(run)
		if n < 0 {
			break
		}
		run = run[n:]
		if n = protowire.ConsumeFieldValue(num, typ, run); n < 0 {
			break
		}
		run = run[n:]
		if num == fieldRunEvents {
			events++
		}
	}
	return max(events, 1)
}

// ToProto maps a domain event to its envelope.
func ToProto(e domain.Event) (*falconv1.EventEnvelope, error) {
	env := &falconv1.EventEnvelope{
		EventId:       e.ID,
		ThreadId:      e.ThreadID,
		Version:       e.Version,
		OccurredAt:    timestamppb.New(e.OccurredAt),
		ActorId:       e.ActorID,
		RequestId:     e.RequestID,
		CorrelationId: e.CorrelationID,
		RequestHash:   e.RequestHash,
		ThreadNumber:  e.ThreadNumber,
		Imported:      e.Imported,
	}
	switch p := e.Payload.(type) {
	case domain.ThreadCreated:
		env.Payload = &falconv1.EventEnvelope_ThreadCreated{ThreadCreated: &falconv1.ThreadCreated{
			Title: p.Title, Remarks: p.Remarks, MemberIds: p.MemberIDs, AdministratorIds: p.AdministratorIDs, ThreadNumber: p.Number}}
	case domain.ThreadUpdated:
		env.Payload = &falconv1.EventEnvelope_ThreadUpdated{ThreadUpdated: &falconv1.ThreadUpdated{Title: p.Title, Remarks: p.Remarks}}
	case domain.ThreadDestroyed:
		env.Payload = &falconv1.EventEnvelope_ThreadDestroyed{ThreadDestroyed: &falconv1.ThreadDestroyed{}}
	case domain.MembersAdded:
		env.Payload = &falconv1.EventEnvelope_MembersAdded{MembersAdded: &falconv1.MembersAdded{AccountIds: p.AccountIDs}}
	case domain.MembersRemoved:
		env.Payload = &falconv1.EventEnvelope_MembersRemoved{MembersRemoved: &falconv1.MembersRemoved{AccountIds: p.AccountIDs}}
	case domain.AdministratorsAdded:
		env.Payload = &falconv1.EventEnvelope_AdministratorsAdded{AdministratorsAdded: &falconv1.AdministratorsAdded{AccountIds: p.AccountIDs}}
	case domain.AdministratorsRemoved:
		env.Payload = &falconv1.EventEnvelope_AdministratorsRemoved{AdministratorsRemoved: &falconv1.AdministratorsRemoved{AccountIds: p.AccountIDs}}
	case domain.MessagePosted:
		env.Payload = &falconv1.EventEnvelope_MessagePosted{MessagePosted: &falconv1.MessagePosted{
			MessageId: p.MessageID, Body: p.Body, ReplyToMessageId: p.ReplyToMessageID, MentionAccountIds: p.MentionAccountIDs,
			Sequence: p.Sequence, MessageNumber: p.Number, ReplyToMessageNumber: p.ReplyToNumber}}
	case domain.MessageEdited:
		env.Payload = &falconv1.EventEnvelope_MessageEdited{MessageEdited: &falconv1.MessageEdited{MessageId: p.MessageID, Body: p.Body, MessageNumber: p.Number}}
	case domain.MessageDeleted:
		env.Payload = &falconv1.EventEnvelope_MessageDeleted{MessageDeleted: &falconv1.MessageDeleted{MessageId: p.MessageID, Sequence: p.Sequence, MessageNumber: p.Number}}
	case domain.ReadMarkerMoved:
		env.Payload = &falconv1.EventEnvelope_ReadMarkerMoved{ReadMarkerMoved: &falconv1.ReadMarkerMoved{MessageId: p.MessageID, Position: p.Position}}
	default:
		return nil, fmt.Errorf("encode event %s: payload %T has no envelope field", e.ID, e.Payload)
	}
	return env, nil
}

// FromProto maps an envelope to a domain event.
func FromProto(env *falconv1.EventEnvelope) (domain.Event, error) {
	e := domain.Event{
		ID:            env.GetEventId(),
		ThreadID:      env.GetThreadId(),
		Version:       env.GetVersion(),
		OccurredAt:    env.GetOccurredAt().AsTime(),
		ActorID:       env.GetActorId(),
		RequestID:     env.GetRequestId(),
		CorrelationID: env.GetCorrelationId(),
		RequestHash:   env.GetRequestHash(),
		ThreadNumber:  env.GetThreadNumber(),
		Imported:      env.GetImported(),
	}
	switch p := env.GetPayload().(type) {
	case *falconv1.EventEnvelope_ThreadCreated:
		e.Payload = domain.ThreadCreated{Title: p.ThreadCreated.GetTitle(), Remarks: p.ThreadCreated.GetRemarks(),
			MemberIDs: p.ThreadCreated.GetMemberIds(), AdministratorIDs: p.ThreadCreated.GetAdministratorIds(), Number: p.ThreadCreated.GetThreadNumber()}
	case *falconv1.EventEnvelope_ThreadUpdated:
		e.Payload = domain.ThreadUpdated{Title: p.ThreadUpdated.Title, Remarks: p.ThreadUpdated.Remarks}
	case *falconv1.EventEnvelope_ThreadDestroyed:
		e.Payload = domain.ThreadDestroyed{}
	case *falconv1.EventEnvelope_MembersAdded:
		e.Payload = domain.MembersAdded{AccountIDs: p.MembersAdded.GetAccountIds()}
	case *falconv1.EventEnvelope_MembersRemoved:
		e.Payload = domain.MembersRemoved{AccountIDs: p.MembersRemoved.GetAccountIds()}
	case *falconv1.EventEnvelope_AdministratorsAdded:
		e.Payload = domain.AdministratorsAdded{AccountIDs: p.AdministratorsAdded.GetAccountIds()}
	case *falconv1.EventEnvelope_AdministratorsRemoved:
		e.Payload = domain.AdministratorsRemoved{AccountIDs: p.AdministratorsRemoved.GetAccountIds()}
	case *falconv1.EventEnvelope_MessagePosted:
		m := p.MessagePosted
		e.Payload = domain.MessagePosted{MessageID: m.GetMessageId(), Body: m.GetBody(),
			ReplyToMessageID: m.GetReplyToMessageId(), MentionAccountIDs: m.GetMentionAccountIds(), Sequence: m.GetSequence(),
			Number: m.GetMessageNumber(), ReplyToNumber: m.GetReplyToMessageNumber()}
	case *falconv1.EventEnvelope_MessageEdited:
		e.Payload = domain.MessageEdited{MessageID: p.MessageEdited.GetMessageId(), Body: p.MessageEdited.GetBody(), Number: p.MessageEdited.GetMessageNumber()}
	case *falconv1.EventEnvelope_MessageDeleted:
		e.Payload = domain.MessageDeleted{MessageID: p.MessageDeleted.GetMessageId(), Sequence: p.MessageDeleted.GetSequence(),
			Number: p.MessageDeleted.GetMessageNumber()}
	case *falconv1.EventEnvelope_ReadMarkerMoved:
		e.Payload = domain.ReadMarkerMoved{MessageID: p.ReadMarkerMoved.GetMessageId(), Position: p.ReadMarkerMoved.GetPosition()}
	default:
		return e, fmt.Errorf("event %s of thread %s, version %d: %w", e.ID, e.ThreadID, e.Version, ErrUnknownEvent)
	}
	return e, nil
}
