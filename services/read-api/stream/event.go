package stream

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// Event is one event for one subscriber: the AccountEvent, encoded once and
// shared by every subscriber it goes to, and the subscriber's cursor after
// it. The zero Event is no event (Next's answer when the stream was idle).
type Event struct {
	cursor []byte // the subscription's, until its next Next
	wire   []byte
}

// Cursor resumes the stream right after the event.
func (e Event) Cursor() string { return string(e.cursor) }

// AppendCursor appends Cursor to b.
func (e Event) AppendCursor(b []byte) []byte { return append(b, e.cursor...) }

// IsZero says there is no event.
func (e Event) IsZero() bool { return e.wire == nil }

// accountEventCursor is AccountEvent.cursor's field number.
const accountEventCursor = 1

// AppendWire appends the protobuf encoding of the AccountEvent, cursor
// included, to b: the shared encoding plus the cursor field (a field may
// come in any order on the wire).
func (e Event) AppendWire(b []byte) []byte {
	b = append(b, e.wire...)
	b = protowire.AppendTag(b, accountEventCursor, protowire.BytesType)
	return protowire.AppendBytes(b, e.cursor)
}

// Proto decodes the AccountEvent, cursor included.
func (e Event) Proto() (*falconv1.AccountEvent, error) {
	ev := &falconv1.AccountEvent{}
	if err := proto.Unmarshal(e.AppendWire(nil), ev); err != nil {
		return nil, fmt.Errorf("decode a pushed event: %w", err)
	}
	return ev, nil
}
