package server

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/types/known/timestamppb"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// restJSON is the gateway's JSON: protojson (through runtime.JSONPb) for
// every message, except the answers REST clients ask for most (pages of
// messages and threads, a message, a post's acknowledgement), which it
// writes directly from their Go structs: protojson walks a message by
// reflection and took a third of the CPU of a REST ListMessages. The
// output means the same as protojson's with EmitDefaultValues (the same
// names, zero values written, unset messages left out, 64-bit integers as
// strings, RFC 3339 timestamps); TestRESTJSONMatchesProtojson holds it to
// that for every field of those messages, so that a field added to one
// fails the test until it is written here.
type restJSON struct {
	runtime.JSONPb
}

// Marshal writes v.
func (m *restJSON) Marshal(v any) ([]byte, error) {
	if b, ok := appendHot(nil, v); ok {
		return b, nil
	}
	return m.JSONPb.Marshal(v)
}

// appendHot appends the JSON of v if v is one of the messages written
// directly; not if it holds what protojson refuses with an error to report
// (text that is not UTF-8, a timestamp out of range).
func appendHot(b []byte, v any) ([]byte, bool) {
	w := jsonWriter{b: b}
	switch v := v.(type) {
	case *falconv1.ListMessagesResponse:
		w.listMessages(v)
	case *falconv1.GetMessageResponse:
		w.b = append(w.b, '{')
		if v.Message != nil {
			w.key("message", true)
			w.message(v.Message)
		}
		w.b = append(w.b, '}')
	case *falconv1.ListThreadsResponse:
		w.listThreads(v)
	case *falconv1.PostMessageResponse:
		w.b = append(w.b, '{')
		w.str("messageId", v.MessageId, true)
		w.uint64("version", v.Version)
		w.uint64("messageNumber", v.MessageNumber)
		w.b = append(w.b, '}')
	default:
		return b, false
	}
	return w.b, !w.fallback
}

type jsonWriter struct {
	b        []byte
	fallback bool
}

func (w *jsonWriter) listMessages(v *falconv1.ListMessagesResponse) {
	n := 64
	for _, m := range v.Messages {
		n += 400 + len(m.Body) // the names, ids and times of a message
	}
	w.b = slices.Grow(w.b, n)
	w.b = append(w.b, `{"messages":[`...)
	for i, m := range v.Messages {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.message(m)
	}
	w.b = append(w.b, ']')
	w.str("nextPageToken", v.NextPageToken, false)
	w.str("prevPageToken", v.PrevPageToken, false)
	w.b = append(w.b, '}')
}

func (w *jsonWriter) message(m *falconv1.Message) {
	w.b = append(w.b, '{')
	w.str("messageId", m.MessageId, true)
	w.str("threadId", m.ThreadId, false)
	w.str("senderId", m.SenderId, false)
	w.str("body", m.Body, false)
	w.str("replyToMessageId", m.ReplyToMessageId, false)
	w.strs("mentionAccountIds", m.MentionAccountIds)
	w.timestamp("createdAt", m.CreatedAt)
	w.timestamp("editedAt", m.EditedAt)
	w.uint64("version", m.Version)
	w.uint64("messageNumber", m.MessageNumber)
	w.uint64("replyToMessageNumber", m.ReplyToMessageNumber)
	w.b = append(w.b, '}')
}

func (w *jsonWriter) listThreads(v *falconv1.ListThreadsResponse) {
	w.b = slices.Grow(w.b, 128+480*len(v.Threads))
	w.b = append(w.b, `{"threads":[`...)
	for i, t := range v.Threads {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.summary(t)
	}
	w.b = append(w.b, ']')
	w.str("nextPageToken", v.NextPageToken, false)
	w.uint64("totalUnreadCount", v.TotalUnreadCount)
	w.uint64("totalMentionCount", v.TotalMentionCount)
	w.b = append(w.b, '}')
}

func (w *jsonWriter) summary(t *falconv1.ThreadSummary) {
	w.b = append(w.b, '{')
	w.str("threadId", t.ThreadId, true)
	w.str("title", t.Title, false)
	w.key("memberCount", false)
	w.b = strconv.AppendUint(w.b, uint64(t.MemberCount), 10)
	w.strs("memberPreviewIds", t.MemberPreviewIds)
	w.key("callerIsAdministrator", false)
	w.b = strconv.AppendBool(w.b, t.CallerIsAdministrator)
	w.str("creatorId", t.CreatorId, false)
	w.timestamp("createdAt", t.CreatedAt)
	w.timestamp("lastActivityAt", t.LastActivityAt)
	w.uint64("messageCount", t.MessageCount)
	w.uint64("version", t.Version)
	w.uint64("unreadCount", t.UnreadCount)
	w.uint64("mentionCount", t.MentionCount)
	w.str("lastReadMessageId", t.LastReadMessageId, false)
	w.uint64("threadNumber", t.ThreadNumber)
	w.b = append(w.b, '}')
}

// key writes "name": after a comma unless it is the object's first.
func (w *jsonWriter) key(name string, first bool) {
	if !first {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonWriter) str(name, v string, first bool) {
	w.key(name, first)
	w.text(v)
}

func (w *jsonWriter) strs(name string, vs []string) {
	w.key(name, false)
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.text(v)
	}
	w.b = append(w.b, ']')
}

// uint64 is written as a string, as protojson writes 64-bit integers
// (JavaScript's numbers hold 53 bits).
func (w *jsonWriter) uint64(name string, v uint64) {
	w.key(name, false)
	w.b = append(w.b, '"')
	w.b = strconv.AppendUint(w.b, v, 10)
	w.b = append(w.b, '"')
}

// timestamp writes RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as
// protojson does; an unset one is left out.
func (w *jsonWriter) timestamp(name string, ts *timestamppb.Timestamp) {
	if ts == nil {
		return
	}
	if ts.Nanos < 0 || ts.Nanos >= 1e9 || ts.Seconds < minTimestamp || ts.Seconds > maxTimestamp {
		w.fallback = true
		return
	}
	w.key(name, false)
	w.b = append(w.b, '"')
	w.b = appendDateTime(w.b, time.Unix(ts.Seconds, 0).UTC())
	if n := int(ts.Nanos); n != 0 {
		digits := 9
		switch {
		case n%1e6 == 0:
			n, digits = n/1e6, 3
		case n%1e3 == 0:
			n, digits = n/1e3, 6
		}
		w.b = append(w.b, '.')
		w.b = appendDigits(w.b, n, digits)
	}
	w.b = append(w.b, 'Z', '"')
}

// appendDateTime appends t as 2006-01-02T15:04:05, as t.AppendFormat
// would, without parsing a layout (a third of the time of a page of
// messages went there).
func appendDateTime(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	return appendDigits(b, sec, 2)
}

// appendDigits appends v (0 <= v < 10^n, n <= 9) as n digits, zeros first.
func appendDigits(b []byte, v, n int) []byte {
	var d [9]byte
	for i := n - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:n]...)
}

// The range of google.protobuf.Timestamp: years 1 to 9999.
const (
	minTimestamp = -62135596800
	maxTimestamp = 253402300799
)

const hexDigits = "0123456789abcdef"

// text writes a JSON string: quotes, backslashes and control characters
// escaped, the rest as it is (JSON is UTF-8).
func (w *jsonWriter) text(s string) {
	if !utf8.ValidString(s) {
		w.fallback = true
	}
	w.b = append(w.b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		w.b = append(w.b, s[start:i]...)
		switch c {
		case '"', '\\':
			w.b = append(w.b, '\\', c)
		case '\n':
			w.b = append(w.b, '\\', 'n')
		case '\r':
			w.b = append(w.b, '\\', 'r')
		case '\t':
			w.b = append(w.b, '\\', 't')
		default:
			w.b = append(w.b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	w.b = append(w.b, s[start:]...)
	w.b = append(w.b, '"')
}
