package readmodel

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"
)

// Summary is a thread as one account's list shows it. It is read from four
// cells of the thread row (the summary, the deleted positions, and the
// account's role and read state), never from the member columns, so that
// listing a thread costs the same whatever its size.
type Summary struct {
	ID             string
	Title          string
	CreatorID      string
	CreatedAt      time.Time
	LastActivityAt time.Time
	MessageCount   uint64
	Version        uint64
	Destroyed      bool
	MemberCount    int
	// FirstMembers are the members first in id order, at most
	// SummaryMembers of them.
	FirstMembers []string
	// Administrator: the account is one.
	Administrator bool
	Unread        Unread
	// Number is the thread's numeric id (0 if it has none).
	Number uint64
}

// SummaryMembers is how many members a summary names: enough to show five
// other than the account listing.
const SummaryMembers = 6

// summaryOf is t as account lists it.
func summaryOf(t *Thread, account string) Summary {
	s := sharedSummary(t)
	s.Administrator = slices.Contains(t.Administrators, account)
	s.Unread = t.UnreadBy(account)
	return s
}

// sharedSummary is the part of t's summary that is the same for every
// account: what the summary cell holds.
func sharedSummary(t *Thread) Summary {
	return Summary{
		ID: t.ID, Title: t.Title, CreatorID: t.CreatorID,
		CreatedAt: t.CreatedAt, LastActivityAt: t.LastActivityAt,
		MessageCount: t.MessageCount, Version: t.Version, Destroyed: t.Destroyed,
		MemberCount: len(t.Members), FirstMembers: firstMembers(t.Members, SummaryMembers), Number: t.Number,
	}
}

// firstMembers returns the n smallest ids of members, in order, without
// sorting them all: the projector's members are in no particular order.
func firstMembers(members []string, n int) []string {
	out := make([]string, 0, min(n, len(members)))
	for _, m := range members {
		i, _ := slices.BinarySearch(out, m)
		if i == n {
			continue
		}
		if len(out) == n {
			out = out[:n-1]
		}
		out = slices.Insert(out, i, m)
	}
	return out
}

// summaryFormat is the format of the cells written; format 1 (before
// numeric ids) is still read.
const summaryFormat = 2

// encodeSummary encodes t's shared summary for the summary cell: a format
// byte, then varints and length-prefixed strings.
func encodeSummary(t *Thread) []byte {
	s := sharedSummary(t)
	b := make([]byte, 0, 64+len(s.Title)+len(s.CreatorID)+len(s.FirstMembers)*32)
	b = append(b, summaryFormat)
	b = appendString(b, s.Title)
	b = appendString(b, s.CreatorID)
	b = binary.AppendVarint(b, unixNano(s.CreatedAt))
	b = binary.AppendVarint(b, unixNano(s.LastActivityAt))
	b = binary.AppendUvarint(b, s.MessageCount)
	b = binary.AppendUvarint(b, s.Version)
	destroyed := byte(0)
	if s.Destroyed {
		destroyed = 1
	}
	b = append(b, destroyed)
	b = binary.AppendUvarint(b, t.LastSequence)
	b = binary.AppendUvarint(b, uint64(s.MemberCount))
	b = binary.AppendUvarint(b, uint64(len(s.FirstMembers)))
	for _, m := range s.FirstMembers {
		b = appendString(b, m)
	}
	return binary.AppendUvarint(b, t.Number)
}

var errBadSummary = errors.New("summary cell is corrupt")

// decodeSummary decodes a summary cell into the shared summary and the
// thread's last message sequence.
func decodeSummary(id string, b []byte) (s Summary, lastSequence uint64, err error) {
	d := decoder{b: b}
	format := d.byte()
	if format != 1 && format != summaryFormat {
		return Summary{}, 0, errBadSummary
	}
	s.ID = id
	s.Title = d.string()
	s.CreatorID = d.string()
	s.CreatedAt = fromUnixNano(d.varint())
	s.LastActivityAt = fromUnixNano(d.varint())
	s.MessageCount = d.uvarint()
	s.Version = d.uvarint()
	s.Destroyed = d.byte() == 1
	lastSequence = d.uvarint()
	s.MemberCount = int(d.uvarint())
	n := d.uvarint()
	if n > SummaryMembers {
		return Summary{}, 0, errBadSummary
	}
	for range n {
		s.FirstMembers = append(s.FirstMembers, d.string())
	}
	if format >= 2 {
		s.Number = d.uvarint()
	}
	if d.bad {
		return Summary{}, 0, errBadSummary
	}
	return s, lastSequence, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decoder reads what encodeSummary and the message cells' encoders wrote;
// past the end or on a malformed field it reads zeros and remembers that it
// went bad.
type decoder struct {
	b   []byte
	bad bool
	// s, when set, is a copy of all of b as a string: strings are read as
	// slices of it, one allocation for them all.
	s string
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	l := d.uvarint()
	if d.bad || l > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	var s string
	if d.s != "" {
		off := len(d.s) - len(d.b)
		s = d.s[off : off+int(l)]
	} else {
		s = string(d.b[:l])
	}
	d.b = d.b[l:]
	return s
}
