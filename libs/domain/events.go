package domain

import "time"

// Event is one change of a thread, as stored on the event log.
type Event struct {
	// ID is the event's ULID; the legacy system's idempotency key.
	ID string
	// ThreadID is the thread the event belongs to (and the record key).
	ThreadID string
	// Version is the thread's version after the event: 1, 2, 3... per thread.
	Version uint64
	// OccurredAt is when the writer decided it.
	OccurredAt time.Time
	// ActorID is the account that made the command.
	ActorID string
	// RequestID is the client's id of the command, kept for idempotency.
	RequestID string
	// CorrelationID ties the event to the request or trace that caused it.
	CorrelationID string
	// ThreadNumber is the thread's numeric id, on every event of the
	// thread (0 for threads created before numeric ids).
	ThreadNumber uint64
	// Imported marks an event brought over from the legacy system, which
	// has it already.
	Imported bool
	// RequestHash is RequestHash of the command that produced the event
	// (empty in events written before it existed).
	RequestHash string
	// Payload is what happened.
	Payload Payload
}

// Payload is one of the eleven event types below.
type Payload interface {
	// EventType is the stable name of the event, as the legacy system and
	// metrics see it.
	EventType() string
}

// ThreadCreated is a new thread: its creator is an administrator and a
// member besides those listed.
type ThreadCreated struct {
	Title            string
	Remarks          string
	MemberIDs        []string
	AdministratorIDs []string
	// Number is the thread's 64-bit numeric id, the legacy system's room
	// id (0 in events written before numeric ids).
	Number uint64
}

// ThreadUpdated changes the fields that are set (nil: unchanged).
type ThreadUpdated struct {
	Title   *string
	Remarks *string
}

// ThreadDestroyed ends a thread: it accepts no command afterwards.
type ThreadDestroyed struct{}

// MembersAdded adds members.
type MembersAdded struct{ AccountIDs []string }

// MembersRemoved removes members (and their administrator role); a
// member that leaves removes itself.
type MembersRemoved struct{ AccountIDs []string }

// AdministratorsAdded makes accounts administrators (and members).
type AdministratorsAdded struct{ AccountIDs []string }

// AdministratorsRemoved takes the administrator role away; they stay
// members.
type AdministratorsRemoved struct{ AccountIDs []string }

// MessagePosted is a new message of the event's actor. Posting reads: the
// author's read marker moves to the message.
type MessagePosted struct {
	MessageID         string
	Body              string
	ReplyToMessageID  string
	MentionAccountIDs []string
	// Sequence is the message's position in the thread: 1, 2, 3... in the
	// order of posting, never reused (deleted messages keep theirs). Zero in
	// events written before it existed: the position is then the count of
	// messages posted before, plus one, which folding counts.
	Sequence uint64
	// Number is the message's 64-bit numeric id, the legacy system's
	// message id; ReplyToNumber the replied-to message's (0 in events
	// written before numeric ids, or for a reply to such a message).
	Number        uint64
	ReplyToNumber uint64
}

// ReadMarkerMoved moves the actor's read marker forward to a message: it
// has read the thread up to and including it.
type ReadMarkerMoved struct {
	MessageID string
	// Position is the message's Sequence.
	Position uint64
}

// MessageEdited replaces a message's body.
type MessageEdited struct {
	MessageID string
	Body      string
	// Number is the message's numeric id (0 if it has none).
	Number uint64
}

// MessageDeleted removes a message.
type MessageDeleted struct {
	MessageID string
	// Sequence is the message's (0 in events written before it was
	// recorded): what leaves the unread counts.
	Sequence uint64
	// Number is the message's numeric id (0 if it has none).
	Number uint64
}

// EventType implements Payload.
func (ThreadCreated) EventType() string { return "ThreadCreated" }

// EventType implements Payload.
func (ThreadUpdated) EventType() string { return "ThreadUpdated" }

// EventType implements Payload.
func (ThreadDestroyed) EventType() string { return "ThreadDestroyed" }

// EventType implements Payload.
func (MembersAdded) EventType() string { return "MembersAdded" }

// EventType implements Payload.
func (MembersRemoved) EventType() string { return "MembersRemoved" }

// EventType implements Payload.
func (AdministratorsAdded) EventType() string { return "AdministratorsAdded" }

// EventType implements Payload.
func (AdministratorsRemoved) EventType() string { return "AdministratorsRemoved" }

// EventType implements Payload.
func (MessagePosted) EventType() string { return "MessagePosted" }

// EventType implements Payload.
func (MessageEdited) EventType() string { return "MessageEdited" }

// EventType implements Payload.
func (MessageDeleted) EventType() string { return "MessageDeleted" }

// EventType implements Payload.
func (ReadMarkerMoved) EventType() string { return "ReadMarkerMoved" }
