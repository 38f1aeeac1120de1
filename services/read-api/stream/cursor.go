package stream

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"

	"github.com/falcon-chat/falcon/libs/eventlog"
)

// Cursor is where a subscriber stands in the event log: per partition, the
// position of the first event it has not been shown.
type Cursor []int64

// indexBits number the events of a record in a position: a record holds
// one event, or a run of imported events (at most eventlog.MaxRunEvents).
const indexBits = 10

// The compiler refuses this if a run may outgrow indexBits.
var _ [1<<indexBits - eventlog.MaxRunEvents]struct{}

// position is where the event at index of the record at offset stands in
// its partition; position(offset, 0) is also the record's start.
func position(offset int64, index int) int64 { return offset<<indexBits | int64(index) }

// MaxCursorLen bounds an encoded cursor: a topic of a few thousand
// partitions fits, anything longer is refused before it is decoded.
const MaxCursorLen = 16 << 10

// cursorVersion 2 holds positions; version 1, offsets (before records
// held runs of events), is still read: its offsets are record starts.
const cursorVersion = 2

// cursorSumLen is the length of the check that binds a cursor to its
// account: a cursor of another account, or one edited, does not decode.
const cursorSumLen = 8

// ErrBadCursor is a cursor that is malformed, edited or another account's.
var ErrBadCursor = errors.New("the cursor is not one this stream gave to this account")

// Encode writes c for account: version, partition count, positions as
// varints, then a check over the account and all of it; base64url.
func (c Cursor) Encode(account string) string { return string(c.AppendEncode(nil, account)) }

// AppendEncode appends Encode's text to dst: a cursor goes with every event
// pushed, so it is written without allocating.
func (c Cursor) AppendEncode(dst []byte, account string) []byte {
	var raw [128]byte
	b := append(raw[:0], cursorVersion)
	b = binary.AppendUvarint(b, uint64(len(c)))
	for _, o := range c {
		b = binary.AppendUvarint(b, uint64(max(o, 0)))
	}
	b = binary.BigEndian.AppendUint64(b, cursorSum(account, b))
	return base64.RawURLEncoding.AppendEncode(dst, b)
}

// DecodeCursor reads a cursor Encode wrote for account.
func DecodeCursor(account, s string) (Cursor, error) {
	// The decoder skips line breaks: refused, so that a cursor has one
	// spelling.
	if len(s) > MaxCursorLen || strings.ContainsAny(s, "\r\n") {
		return nil, ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2+cursorSumLen || b[0] != 1 && b[0] != cursorVersion {
		return nil, ErrBadCursor
	}
	body, sum := b[:len(b)-cursorSumLen], b[len(b)-cursorSumLen:]
	if binary.BigEndian.Uint64(sum) != cursorSum(account, body) {
		return nil, ErrBadCursor
	}
	rest := body[1:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)) {
		return nil, ErrBadCursor
	}
	rest = rest[k:]
	limit, shift := uint64(1<<62), 0
	if b[0] == 1 {
		limit, shift = 1<<(62-indexBits), indexBits
	}
	c := make(Cursor, n)
	for i := range c {
		o, k := binary.Uvarint(rest)
		if k <= 0 || o > limit {
			return nil, ErrBadCursor
		}
		c[i], rest = int64(o<<shift), rest[k:]
	}
	if len(rest) != 0 {
		return nil, ErrBadCursor
	}
	return c, nil
}

// cursorSum is not a secret's MAC: a cursor grants nothing (every event is
// still filtered by membership); the check only makes a cursor of another
// account, or a mistyped one, a clear error instead of a wrong position. It
// is computed for every event pushed, so it is a cheap one: FNV-1a, 64
// bits, over the account, a zero byte and the body.
func cursorSum(account string, body []byte) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(account); i++ {
		h = (h ^ uint64(account[i])) * prime
	}
	h *= prime // the zero byte
	for _, c := range body {
		h = (h ^ uint64(c)) * prime
	}
	return h
}
