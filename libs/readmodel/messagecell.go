package readmodel

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// A message row holds the message as posted in one cell (colPost) and its
// last edit, if any, in another (colEdit): a page of 50 messages is 50 to
// 100 keys to iterate instead of ten times as many, and an edit is still a
// blind write, never a read of the row first. Rows projected before these
// cells have a column per field; they are still read (legacyMessage), and an
// edit of one writes colEdit over them.
const (
	colPost = "d:m"
	colEdit = "d:e"
)

// messageCellFormat is the format byte of both cells.
const messageCellFormat = 1

// encodePost encodes a posted message for colPost: a format byte, then
// length-prefixed strings and varints.
func encodePost(m *Message) []byte {
	n := 1 + 3*binary.MaxVarintLen16 + len(m.SenderID) + len(m.Body) + len(m.ReplyToMessageID) +
		binary.MaxVarintLen16 + 5*binary.MaxVarintLen64
	for _, a := range m.MentionAccountIDs {
		n += binary.MaxVarintLen16 + len(a)
	}
	b := make([]byte, 0, n)
	b = append(b, messageCellFormat)
	b = appendString(b, m.SenderID)
	b = appendString(b, m.Body)
	b = appendString(b, m.ReplyToMessageID)
	b = binary.AppendUvarint(b, uint64(len(m.MentionAccountIDs)))
	for _, a := range m.MentionAccountIDs {
		b = appendString(b, a)
	}
	b = binary.AppendVarint(b, unixNano(m.CreatedAt))
	b = binary.AppendUvarint(b, m.Version)
	b = binary.AppendUvarint(b, m.Sequence)
	b = binary.AppendUvarint(b, m.Number)
	return binary.AppendUvarint(b, m.ReplyToNumber)
}

// encodeEdit encodes an edit for colEdit: the new body, when, and the
// version of the edit's event.
func encodeEdit(body string, at time.Time, version uint64) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen16+len(body)+2*binary.MaxVarintLen64)
	b = append(b, messageCellFormat)
	b = appendString(b, body)
	b = binary.AppendVarint(b, unixNano(at))
	return binary.AppendUvarint(b, version)
}

// messageFromRow reads a message row of either layout. A cell it cannot
// decode is an error naming the row: a silent empty message would be shown
// to users as if it were one.
func messageFromRow(r readstore.Row) (Message, error) {
	var m Message
	if post, ok := r.Lookup(colPost); ok {
		if !decodePost(&m, post) {
			return Message{}, fmt.Errorf("message row %q: cell %s is corrupt", r.Key, colPost)
		}
	} else {
		m = legacyMessage(r)
	}
	if edit, ok := r.Lookup(colEdit); ok {
		if !decodeEdit(&m, edit) {
			return Message{}, fmt.Errorf("message row %q: cell %s is corrupt", r.Key, colEdit)
		}
	}
	if k := string(r.Key); len(k) == messageKeyLen {
		m.ThreadID, m.ID = k[:threadIDLen], k[threadIDLen:]
	}
	return m, nil
}

// decodePost fills m from a colPost cell. Its strings share one copy of
// the cell.
func decodePost(m *Message, b []byte) bool {
	d := decoder{b: b, s: string(b)}
	if d.byte() != messageCellFormat {
		return false
	}
	m.SenderID = d.string()
	m.Body = d.string()
	m.ReplyToMessageID = d.string()
	if n := d.uvarint(); n > 0 {
		// Each mention takes at least a byte: a count past that is corrupt,
		// not an allocation to make.
		if n > uint64(len(d.b)) {
			return false
		}
		m.MentionAccountIDs = make([]string, n)
		for i := range m.MentionAccountIDs {
			m.MentionAccountIDs[i] = d.string()
		}
	}
	m.CreatedAt = fromUnixNano(d.varint())
	m.Version = d.uvarint()
	m.Sequence = d.uvarint()
	m.Number = d.uvarint()
	m.ReplyToNumber = d.uvarint()
	return !d.bad && len(d.b) == 0
}

// decodeEdit applies a colEdit cell to m.
func decodeEdit(m *Message, b []byte) bool {
	d := decoder{b: b, s: string(b)}
	if d.byte() != messageCellFormat {
		return false
	}
	body := d.string()
	at := fromUnixNano(d.varint())
	version := d.uvarint()
	if d.bad || len(d.b) != 0 {
		return false
	}
	m.Body, m.EditedAt, m.Version = body, at, version
	return true
}

// legacyMessage reads a row written with a column per field.
func legacyMessage(r readstore.Row) Message {
	return Message{
		SenderID:          string(r.Value(colSender)),
		Body:              string(r.Value(colBody)),
		ReplyToMessageID:  string(r.Value(colReplyTo)),
		MentionAccountIDs: decList(r.Value(colMentions)),
		CreatedAt:         decTime(r.Value(colCreated)),
		EditedAt:          decTime(r.Value(colEdited)),
		Version:           decUint(r.Value(colVersion)),
		Sequence:          decUint(r.Value(colSequence)),
		Number:            decUint(r.Value(colNumber)),
		ReplyToNumber:     decUint(r.Value(colReplyToNumber)),
	}
}
