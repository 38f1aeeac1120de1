// Package domain holds the Thread aggregate: its commands, events, rules and
// limits. It is pure: ids and the clock come in through Meta.
package domain

import (
	"fmt"
	"slices"
	"time"
)

// Thread is the state of one thread, rebuilt by folding its events.
type Thread struct {
	id        string
	version   uint64
	title     string
	remarks   string
	creatorID string
	createdAt time.Time
	destroyed bool
	members   map[string]struct{}
	admins    map[string]struct{}
	// messages indexes the MaxIndexedMessages most recent messages (their
	// author and position) for reply, edit, delete and mark-read checks; a
	// deleted one stays as a tombstone, so an import sent twice knows it.
	messages messageIndex
	// posted is the Sequence of the last message posted.
	posted uint64
	// number is the thread's numeric id; lastNumber the greatest numeric
	// id its events carry (the thread's or a message's).
	number, lastNumber uint64
	// markers holds each member's read marker: the Sequence of the last
	// message it has read; a member starts at the message before it joined.
	markers  map[string]uint64
	requests requestLog
}

// NewThread returns the empty state of the thread with this id, before its
// ThreadCreated event.
func NewThread(id string) *Thread {
	return &Thread{
		id:       id,
		members:  map[string]struct{}{},
		admins:   map[string]struct{}{},
		messages: newMessageIndex(),
		markers:  map[string]uint64{},
	}
}

// ID is the thread's id.
func (t *Thread) ID() string { return t.id }

// Version is the version of the last event applied (0: none).
func (t *Thread) Version() uint64 { return t.version }

// Exists reports whether the thread was created.
func (t *Thread) Exists() bool { return t.version > 0 }

// Destroyed reports whether the thread was destroyed.
func (t *Thread) Destroyed() bool { return t.destroyed }

// Title is the thread's title.
func (t *Thread) Title() string { return t.title }

// Remarks are the thread's remarks.
func (t *Thread) Remarks() string { return t.remarks }

// CreatorID is the account that created the thread.
func (t *Thread) CreatorID() string { return t.creatorID }

// Number is the thread's numeric id (0 for a thread created before numeric
// ids).
func (t *Thread) Number() uint64 { return t.number }

// LastNumber is the greatest numeric id the thread's events carry: its
// partition's writer continues after the greatest of its threads'.
func (t *Thread) LastNumber() uint64 { return t.lastNumber }

// CreatedAt is when the thread was created.
func (t *Thread) CreatedAt() time.Time { return t.createdAt }

// IndexedMessages is how many recent messages the thread remembers, deleted
// ones included: at most MaxIndexedMessages.
func (t *Thread) IndexedMessages() int { return t.messages.len() }

// live returns an indexed message that was not deleted.
func (t *Thread) live(messageID string) (messageRef, bool) {
	m, ok := t.messages.get(messageID)
	return m, ok && !m.deleted
}

// IsMember reports whether account is a member.
func (t *Thread) IsMember(account string) bool {
	_, ok := t.members[account]
	return ok
}

// IsAdministrator reports whether account is an administrator.
func (t *Thread) IsAdministrator(account string) bool {
	_, ok := t.admins[account]
	return ok
}

// Members returns the members, sorted.
func (t *Thread) Members() []string { return sortedKeys(t.members) }

// Administrators returns the administrators, sorted.
func (t *Thread) Administrators() []string { return sortedKeys(t.admins) }

// MessageAuthor returns the author of a live message.
func (t *Thread) MessageAuthor(messageID string) (string, bool) {
	m, ok := t.live(messageID)
	return m.author, ok
}

// LastSequence is the Sequence of the last message posted (0: none yet).
func (t *Thread) LastSequence() uint64 { return t.posted }

// ReadMarker is the Sequence of the last message a member has read, and
// whether the account is a member.
func (t *Thread) ReadMarker(account string) (uint64, bool) {
	p, ok := t.markers[account]
	return p, ok
}

// Apply folds one event into the state. Events must come in version order;
// an event at or below the current version was already applied and is
// skipped, a gap is an error (the log is not what this thread wrote).
func (t *Thread) Apply(e Event) error {
	if e.ThreadID != t.id {
		return fmt.Errorf("event %s belongs to thread %s, not %s", e.ID, e.ThreadID, t.id)
	}
	if e.Version <= t.version {
		return nil
	}
	if e.Version != t.version+1 {
		return fmt.Errorf("thread %s: event %s has version %d, want %d", t.id, e.ID, e.Version, t.version+1)
	}
	switch p := e.Payload.(type) {
	case ThreadCreated:
		t.title, t.remarks = p.Title, p.Remarks
		t.creatorID = e.ActorID
		t.createdAt = e.OccurredAt
		t.number = p.Number
		t.lastNumber = max(t.lastNumber, p.Number)
		m := MembershipOf(p)
		t.join(m.AddMembers)
		addAll(t.members, m.AddMembers)
		addAll(t.admins, m.AddAdministrators)
	case ThreadUpdated:
		if p.Title != nil {
			t.title = *p.Title
		}
		if p.Remarks != nil {
			t.remarks = *p.Remarks
		}
	case ThreadDestroyed:
		t.destroyed = true
	case MembersAdded, MembersRemoved, AdministratorsAdded, AdministratorsRemoved:
		m := MembershipOf(p)
		deleteAll(t.members, m.RemoveMembers)
		deleteAll(t.admins, m.RemoveAdministrators)
		for _, a := range m.RemoveMembers {
			delete(t.markers, a)
		}
		t.join(m.AddMembers)
		addAll(t.members, m.AddMembers)
		addAll(t.admins, m.AddAdministrators)
	case MessagePosted:
		t.posted = SequenceOf(p, t.posted)
		t.messages.put(p.MessageID, messageRef{author: e.ActorID, seq: t.posted, number: p.Number})
		t.lastNumber = max(t.lastNumber, p.Number)
		// An imported message's author may have left the room.
		if _, member := t.members[e.ActorID]; member {
			t.markers[e.ActorID] = t.posted
		}
	case MessageEdited:
	case MessageDeleted:
		t.messages.markDeleted(p.MessageID)
	case ReadMarkerMoved:
		t.markers[e.ActorID] = max(t.markers[e.ActorID], p.Position)
	default:
		// Unknown payloads still take their version: fields and types are
		// only ever added, and a newer writer may know what we do not.
	}
	t.version = e.Version
	t.requests.remember(e.ActorID, e.RequestID, commandOf(e.Payload), e.RequestHash, resultOf(e))
	return nil
}

func resultOf(e Event) Result {
	r := Result{Version: e.Version}
	switch p := e.Payload.(type) {
	case MessagePosted:
		r.MessageID, r.Number = p.MessageID, p.Number
	case ThreadCreated:
		r.Number = p.Number
	}
	return r
}

// SequenceOf is the position of a posted message in its thread, whose last
// message so far was at last: the event's own, or for events written before
// it was recorded, the next one.
func SequenceOf(p MessagePosted, last uint64) uint64 {
	if p.Sequence != 0 {
		return p.Sequence
	}
	return last + 1
}

// join starts the read markers of accounts becoming members at the last
// message: what was posted before they joined is not theirs to read.
func (t *Thread) join(ids []string) {
	for _, a := range ids {
		if _, member := t.members[a]; !member {
			t.markers[a] = t.posted
		}
	}
}

func addAll(set map[string]struct{}, ids []string) {
	for _, id := range ids {
		set[id] = struct{}{}
	}
}

func deleteAll(set map[string]struct{}, ids []string) {
	for _, id := range ids {
		delete(set, id)
	}
}

func sortedKeys(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
