package readmodel

import (
	"slices"
	"strconv"
	"strings"

	"github.com/falcon-chat/falcon/libs/domain"
)

// Span is a stretch of a thread's versions in which an account was a
// member: from the version that added it to the one that removed it, both
// included (the removal is the last event it is shown). To is 0 while it is
// still a member.
type Span struct{ From, To uint64 }

// History is, per account, the spans of its membership of one thread: what
// the event stream needs to tell who may see an event at its version, even
// after the membership has changed again.
type History map[string][]Span

// MemberAt reports whether account was a member at version v.
func (h History) MemberAt(account string, v uint64) bool {
	for _, s := range h[account] {
		if v >= s.From && (s.To == 0 || v <= s.To) {
			return true
		}
	}
	return false
}

// MembersAt lists the accounts that were members at version v.
func (h History) MembersAt(v uint64) []string {
	var out []string
	for a := range h {
		if h.MemberAt(a, v) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// record opens a span for each account in joined and closes the open span
// of each in left, at version v, and returns the accounts it changed.
func (h History) record(joined, left []string, v uint64) []string {
	for _, a := range joined {
		h[a] = append(h[a], Span{From: v})
	}
	for _, a := range left {
		if ss := h[a]; len(ss) > 0 && ss[len(ss)-1].To == 0 {
			ss[len(ss)-1].To = v
		}
	}
	return append(slices.Clone(joined), left...)
}

func (h History) clone() History {
	out := make(History, len(h))
	for a, ss := range h {
		out[a] = slices.Clone(ss)
	}
	return out
}

// FoldMembership applies the membership change of e (domain.MembershipOf)
// to t's members, administrators and history, at e's version. It returns
// the accounts whose history changed.
func (t *Thread) FoldMembership(e domain.Event) []string {
	m := domain.MembershipOf(e.Payload)
	before := t.Members
	t.Members = union(minus(t.Members, m.RemoveMembers), m.AddMembers)
	t.Administrators = union(minus(t.Administrators, m.RemoveAdministrators), m.AddAdministrators)
	if t.historyShared {
		t.History = t.History.clone() // record changes the spans in place
		t.historyShared = false
	}
	if t.History == nil {
		t.History = History{}
	}
	return t.History.record(minus(t.Members, before), minus(before, t.Members), e.Version)
}

// encodeSpans writes spans as "from-to,from-" (an open span has no end).
func encodeSpans(ss []Span) []byte {
	var b []byte
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, s.From, 10)
		b = append(b, '-')
		if s.To != 0 {
			b = strconv.AppendUint(b, s.To, 10)
		}
	}
	return b
}

// decodeSpans reads what encodeSpans wrote; a malformed span is skipped.
func decodeSpans(b []byte) []Span {
	var out []Span
	for part := range strings.SplitSeq(string(b), ",") {
		from, to, ok := strings.Cut(part, "-")
		if !ok {
			continue
		}
		f, err := strconv.ParseUint(from, 10, 64)
		if err != nil {
			continue
		}
		var t uint64
		if to != "" {
			if t, err = strconv.ParseUint(to, 10, 64); err != nil {
				continue
			}
		}
		out = append(out, Span{From: f, To: t})
	}
	return out
}
