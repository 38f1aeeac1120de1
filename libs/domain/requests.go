package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Result is what a command answers.
type Result struct {
	Version uint64
	// MessageID is set by PostMessage.
	MessageID string
	// Number is the numeric id of what the request created: the thread of
	// CreateThread, the message of PostMessage.
	Number uint64
	// Replayed says the request id was seen before: this is the first
	// answer again and nothing new was appended.
	Replayed bool
	// Import is what an Import did.
	Import *ImportResult
}

// requestKey names a remembered request: request ids are the client's, so
// they are remembered per account, and one account can never reach
// another's answer by reusing its request id.
type requestKey struct{ account, id string }

type requestEntry struct {
	key     requestKey
	command string
	// hash is RequestHash of the request; empty for requests remembered
	// from events written before hashes existed.
	hash   string
	result Result
}

// requestLog remembers the last RecentRequests requests of a thread, in a
// ring so its memory is fixed.
type requestLog struct {
	ring  []requestEntry
	next  int
	index map[requestKey]int
}

func (l *requestLog) remember(account, id, command, hash string, r Result) {
	if id == "" {
		return
	}
	if l.index == nil {
		l.index = map[requestKey]int{}
	}
	k := requestKey{account, id}
	if _, ok := l.index[k]; ok {
		return
	}
	e := requestEntry{key: k, command: command, hash: hash, result: r}
	if len(l.ring) < RecentRequests {
		l.index[k] = len(l.ring)
		l.ring = append(l.ring, e)
		return
	}
	delete(l.index, l.ring[l.next].key)
	l.ring[l.next] = e
	l.index[k] = l.next
	l.next = (l.next + 1) % RecentRequests
}

func (l *requestLog) lookup(account, id string) (requestEntry, bool) {
	i, ok := l.index[requestKey{account, id}]
	if !ok {
		return requestEntry{}, false
	}
	return l.ring[i], true
}

// RequestHash is a hash of a request as the client sent it: its command
// and every field. A retry has the same hash; a different request reusing
// the request id does not.
func RequestHash(cmd Command) string {
	h := sha256.New()
	field := func(s string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	optional := func(s *string) {
		if s == nil {
			field("\x00unset")
			return
		}
		field("\x01" + *s)
	}
	list := func(ids []string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(ids)))])
		for _, id := range ids {
			field(id)
		}
	}
	field(cmd.Name())
	switch c := cmd.(type) {
	case CreateThread:
		field(c.Title)
		field(c.Remarks)
		list(c.MemberIDs)
		list(c.AdministratorIDs)
	case UpdateThread:
		optional(c.Title)
		optional(c.Remarks)
	case AddMembers:
		list(c.AccountIDs)
	case RemoveMembers:
		list(c.AccountIDs)
	case AddAdministrators:
		list(c.AccountIDs)
	case RemoveAdministrators:
		list(c.AccountIDs)
	case PostMessage:
		field(c.Body)
		field(c.ReplyToMessageID)
		list(c.MentionAccountIDs)
	case EditMessage:
		field(c.MessageID)
		field(c.Body)
	case DeleteMessage:
		field(c.MessageID)
	case MarkRead:
		field(c.MessageID)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
