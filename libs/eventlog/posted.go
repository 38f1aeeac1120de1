package eventlog

import (
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/falcon-chat/falcon/libs/domain"
)

// The envelope of a MessagePosted, most of the log (every message posted,
// and a migration's history a thousand rows a call), is written by hand:
// the same bytes as proto.Marshal of ToProto's envelope
// (TestPostedEnvelopeIsProtoMarshals), without the four messages ToProto
// makes of each event first. Fields go in the order proto.Marshal writes
// them: the envelope's by number, then the payload (a oneof).

// Field numbers of EventEnvelope, google.protobuf.Timestamp and
// MessagePosted, held to the schema by TestHandWrittenFieldNumbersAreTheSchemas.
const (
	fieldEventID       protowire.Number = 1
	fieldOccurredAt    protowire.Number = 4
	fieldActorID       protowire.Number = 5
	fieldRequestID     protowire.Number = 6
	fieldCorrelationID protowire.Number = 7
	fieldRequestHash   protowire.Number = 8
	fieldThreadNumber  protowire.Number = 9
	fieldMessagePosted protowire.Number = 17

	fieldSeconds protowire.Number = 1
	fieldNanos   protowire.Number = 2

	fieldPostedMessageID   protowire.Number = 1
	fieldPostedBody        protowire.Number = 2
	fieldPostedReplyTo     protowire.Number = 3
	fieldPostedMentions    protowire.Number = 4
	fieldPostedSequence    protowire.Number = 5
	fieldPostedNumber      protowire.Number = 6
	fieldPostedReplyNumber protowire.Number = 7
)

// postedEnvelope writes the envelope of e, whose payload is p. (Nested
// messages are sized by a wire of their own first; the functions are named
// rather than passed, so that no wire escapes to the heap.)
func postedEnvelope(w *wire, e *domain.Event, p *domain.MessagePosted) {
	w.str(fieldEventID, e.ID)
	w.str(fieldThreadID, e.ThreadID)
	w.uvarint(fieldVersion, e.Version)
	ts := wire{sizing: true}
	timestampFields(&ts, e.OccurredAt)
	w.header(fieldOccurredAt, ts.n)
	if !w.sizing {
		timestampFields(w, e.OccurredAt)
	}
	w.str(fieldActorID, e.ActorID)
	w.str(fieldRequestID, e.RequestID)
	w.str(fieldCorrelationID, e.CorrelationID)
	w.str(fieldRequestHash, e.RequestHash)
	w.uvarint(fieldThreadNumber, e.ThreadNumber)
	if e.Imported {
		w.uvarint(fieldImported, 1)
	}
	payload := wire{sizing: true}
	postedFields(&payload, p)
	w.header(fieldMessagePosted, payload.n)
	if !w.sizing {
		postedFields(w, p)
	}
}

// timestampFields writes t as google.protobuf.Timestamp's fields.
func timestampFields(w *wire, t time.Time) {
	w.uvarint(fieldSeconds, uint64(t.Unix()))
	w.uvarint(fieldNanos, uint64(t.Nanosecond()))
}

func postedFields(w *wire, p *domain.MessagePosted) {
	w.str(fieldPostedMessageID, p.MessageID)
	w.str(fieldPostedBody, p.Body)
	w.str(fieldPostedReplyTo, p.ReplyToMessageID)
	for _, a := range p.MentionAccountIDs {
		w.bytesField(fieldPostedMentions, a)
	}
	w.uvarint(fieldPostedSequence, p.Sequence)
	w.uvarint(fieldPostedNumber, p.Number)
	w.uvarint(fieldPostedReplyNumber, p.ReplyToNumber)
}

// postedSize is the size of e's envelope, or an error where proto.Marshal
// would refuse it: a string that is not UTF-8.
func postedSize(e *domain.Event, p *domain.MessagePosted) (int, error) {
	for _, s := range [...]string{e.ID, e.ThreadID, e.ActorID, e.RequestID, e.CorrelationID, e.RequestHash, p.MessageID, p.Body, p.ReplyToMessageID} {
		if !utf8.ValidString(s) {
			return 0, fmt.Errorf("encode event %s of thread %s: a string field is not valid UTF-8", e.ID, e.ThreadID)
		}
	}
	for _, a := range p.MentionAccountIDs {
		if !utf8.ValidString(a) {
			return 0, fmt.Errorf("encode event %s of thread %s: a mentioned account id is not valid UTF-8", e.ID, e.ThreadID)
		}
	}
	w := wire{sizing: true}
	postedEnvelope(&w, e, p)
	return w.n, nil
}

// appendPosted appends e's envelope, checked by postedSize.
func appendPosted(b []byte, e *domain.Event, p *domain.MessagePosted) []byte {
	w := wire{b: b}
	postedEnvelope(&w, e, p)
	return w.b
}
