package domain

import "time"

// Event is one change of a thread, as stored on the event log.
type Event struct {
	ID            string
	ThreadID      string
	Version       uint64
	OccurredAt    time.Time
	ActorID       string
	RequestID     string
	CorrelationID string
	Payload       Payload
}

// Payload is one of the ten event types below.
type Payload interface {
	// EventType is the stable name of the event, as the legacy system and
	// metrics see it.
	EventType() string
}

type ThreadCreated struct {
	Title            string
	Remarks          string
	MemberIDs        []string
	AdministratorIDs []string
}

type ThreadUpdated struct {
	Title   *string
	Remarks *string
}

type ThreadDestroyed struct{}

type MembersAdded struct{ AccountIDs []string }

type MembersRemoved struct{ AccountIDs []string }

type AdministratorsAdded struct{ AccountIDs []string }

type AdministratorsRemoved struct{ AccountIDs []string }

type MessagePosted struct {
	MessageID         string
	Body              string
	ReplyToMessageID  string
	MentionAccountIDs []string
}

type MessageEdited struct {
	MessageID string
	Body      string
}

type MessageDeleted struct{ MessageID string }

func (ThreadCreated) EventType() string         { return "ThreadCreated" }
func (ThreadUpdated) EventType() string         { return "ThreadUpdated" }
func (ThreadDestroyed) EventType() string       { return "ThreadDestroyed" }
func (MembersAdded) EventType() string          { return "MembersAdded" }
func (MembersRemoved) EventType() string        { return "MembersRemoved" }
func (AdministratorsAdded) EventType() string   { return "AdministratorsAdded" }
func (AdministratorsRemoved) EventType() string { return "AdministratorsRemoved" }
func (MessagePosted) EventType() string         { return "MessagePosted" }
func (MessageEdited) EventType() string         { return "MessageEdited" }
func (MessageDeleted) EventType() string        { return "MessageDeleted" }
