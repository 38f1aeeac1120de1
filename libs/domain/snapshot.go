package domain

import (
	"fmt"
	"time"
)

// Snapshot is a thread's whole state, to store and restore instead of
// folding every event again.
type Snapshot struct {
	ID             string
	Version        uint64
	Title          string
	Remarks        string
	CreatorID      string
	CreatedAt      time.Time
	Destroyed      bool
	Members        []string
	Administrators []string
	// Messages are the indexed messages, oldest first.
	Messages []MessageRef
	// Requests are the remembered request ids, oldest first.
	Requests []RequestRef
	// LastSequence is the Sequence of the last message posted.
	LastSequence uint64
	// ReadMarkers are the members' read markers, by account.
	ReadMarkers []ReadMarkerRef
	// Number is the thread's numeric id; LastNumber the greatest numeric id
	// its events carried.
	Number, LastNumber uint64
	// Evicted is the greatest numeric id of a message the index forgot.
	Evicted uint64
}

// MessageRef is an indexed message, its author, its Sequence and its
// numeric id.
type MessageRef struct {
	ID, AuthorID string
	Sequence     uint64
	Number       uint64
	// Deleted marks a tombstone: the message was deleted.
	Deleted bool
}

// ReadMarkerRef is a member's read marker.
type ReadMarkerRef struct {
	AccountID string
	Position  uint64
}

// RequestRef is a remembered request and the answer it got.
type RequestRef struct {
	ID        string
	AccountID string
	Command   string
	Hash      string
	Version   uint64
	MessageID string
	// Number is the numeric id the request's answer named.
	Number uint64
}

// Snapshot captures the thread's state.
func (t *Thread) Snapshot() Snapshot {
	s := Snapshot{
		ID: t.id, Version: t.version, Title: t.title, Remarks: t.remarks, CreatorID: t.creatorID,
		CreatedAt: t.createdAt, Destroyed: t.destroyed, Members: t.Members(), Administrators: t.Administrators(),
		LastSequence: t.posted, Number: t.number, LastNumber: t.lastNumber, Evicted: t.messages.evicted,
	}
	if t.messages.len() > 0 {
		s.Messages = t.messages.snapshot()
	}
	for _, a := range s.Members {
		s.ReadMarkers = append(s.ReadMarkers, ReadMarkerRef{AccountID: a, Position: t.markers[a]})
	}
	n := len(t.requests.ring)
	for i := 0; i < n; i++ {
		e := t.requests.ring[(t.requests.next+i)%n]
		s.Requests = append(s.Requests, RequestRef{ID: e.key.id, AccountID: e.key.account, Command: e.command, Hash: e.hash,
			Version: e.result.Version, MessageID: e.result.MessageID, Number: e.result.Number})
	}
	return s
}

// Restore rebuilds a thread from a snapshot, refusing one that does not
// hold together.
func Restore(s Snapshot) (*Thread, error) {
	if s.ID == "" {
		return nil, fmt.Errorf("snapshot has no thread id")
	}
	if len(s.Messages) > MaxIndexedMessages || len(s.Requests) > RecentRequests {
		return nil, fmt.Errorf("snapshot of thread %s holds %d messages and %d requests, over the limits %d and %d",
			s.ID, len(s.Messages), len(s.Requests), MaxIndexedMessages, RecentRequests)
	}
	t := NewThread(s.ID)
	t.version, t.title, t.remarks, t.creatorID = s.Version, s.Title, s.Remarks, s.CreatorID
	t.createdAt, t.destroyed = s.CreatedAt, s.Destroyed
	addAll(t.members, s.Members)
	addAll(t.admins, s.Administrators)
	t.posted = s.LastSequence
	t.number, t.lastNumber, t.messages.evicted = s.Number, max(s.LastNumber, s.Number), s.Evicted
	for _, m := range s.Messages {
		if m.Sequence > s.LastSequence {
			return nil, fmt.Errorf("snapshot of thread %s has message %s at position %d, after its last, %d", s.ID, m.ID, m.Sequence, s.LastSequence)
		}
		if !t.messages.put(m.ID, messageRef{author: m.AuthorID, seq: m.Sequence, number: m.Number, deleted: m.Deleted}) {
			return nil, fmt.Errorf("snapshot of thread %s has message id %q, not a ULID", s.ID, m.ID)
		}
		t.lastNumber = max(t.lastNumber, m.Number)
	}
	for _, r := range s.ReadMarkers {
		if _, member := t.members[r.AccountID]; !member || r.Position > s.LastSequence {
			return nil, fmt.Errorf("snapshot of thread %s has a read marker of %s at %d: not a member, or past the last message %d", s.ID, r.AccountID, r.Position, s.LastSequence)
		}
		t.markers[r.AccountID] = r.Position
	}
	for _, a := range s.Members {
		if _, ok := t.markers[a]; !ok {
			return nil, fmt.Errorf("snapshot of thread %s has no read marker for member %s", s.ID, a)
		}
	}
	for _, r := range s.Requests {
		if r.Version > s.Version {
			return nil, fmt.Errorf("snapshot of thread %s at version %d remembers request %s at version %d", s.ID, s.Version, r.ID, r.Version)
		}
		t.requests.remember(r.AccountID, r.ID, r.Command, r.Hash, Result{Version: r.Version, MessageID: r.MessageID, Number: r.Number})
	}
	return t, nil
}
