package readmodel

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/readstore"
)

// Projector applies thread events to the read store. It is idempotent: a
// thread row carries the version applied to it and events at or below it are
// skipped, so a batch replayed after a crash changes nothing twice.
type Projector struct {
	store readstore.Store
	cache *threadCache
}

// NewProjector returns a projector writing to s. It must be the only
// writer of the rows of the threads it is given events of (their
// partition's consumer): Forget when that may have changed.
func NewProjector(s readstore.Store) *Projector { return &Projector{store: s, cache: newThreadCache()} }

// Forget drops the threads the projector keeps in memory (the partitions
// it is given may have moved).
func (p *Projector) Forget() { p.cache.reset() }

// threadChange is one thread's state across a batch: as stored before it,
// and as it is after the batch's events.
type threadChange struct {
	before Thread
	after  Thread
	exists bool
}

// Apply applies a batch of events, in order, and returns how many were new.
// The writes are durable when it returns. Message rows and the account index
// are written before thread rows, so that a store without multi-row atomicity
// never records a version whose effects are missing.
func (p *Projector) Apply(ctx context.Context, events []domain.Event) (int, error) {
	var ids [][]byte
	seen := map[string]bool{}
	for _, e := range events {
		if !seen[e.ThreadID] {
			seen[e.ThreadID] = true
			ids = append(ids, []byte(e.ThreadID))
		}
	}
	sequences, err := p.legacySequences(ctx, events)
	if err != nil {
		return 0, err
	}
	changes, err := p.load(ctx, ids)
	if err != nil {
		return 0, err
	}
	for _, c := range changes {
		// The batch starts from before's state, sharing what it changes
		// only by replacing (Members, Administrators, Deleted, each read
		// state's Mentions) or after copying (History, Reads).
		c.after = c.before
		c.after.historyShared, c.after.readsShared = true, true
	}

	// One slice in the order of writing: messages, the account index, then
	// the thread rows. Sized for a batch of posts (a message row and a
	// numeric id's row each; each thread moved in every member's list), so
	// that it does not grow.
	size := 2 * len(events)
	for _, c := range changes {
		size += 1 + 2*len(c.before.Members)
	}
	all := make([]readstore.Mutation, 0, size)
	applied := 0
	for _, e := range events {
		c := changes[e.ThreadID]
		if e.Version <= c.after.Version {
			continue
		}
		applied++
		all = apply(all, &c.after, e, sequences)
		c.after.Version = e.Version
	}
	if applied == 0 {
		return 0, nil
	}
	for _, id := range ids {
		if c := changes[string(id)]; c.after.Version != c.before.Version {
			all = appendIndexMutations(all, c)
		}
	}
	for _, id := range ids {
		if c := changes[string(id)]; c.after.Version != c.before.Version {
			all = append(all, threadMutation(c))
		}
	}
	if err := p.store.Apply(ctx, all); err != nil {
		// Some of it may have been written: read the rows again.
		p.cache.drop(ids)
		return 0, fmt.Errorf("write %d read-model mutations: %w", len(all), err)
	}
	p.remember(changes)
	return applied, nil
}

// legacySequences reads, by thread id + message id, the sequences of the
// messages the batch deletes by events written before MessageDeleted
// carried one. It is nil when there are none (events written since carry
// it); otherwise apply adds the messages the batch posts, whose rows are not
// written yet.
func (p *Projector) legacySequences(ctx context.Context, events []domain.Event) (map[string]uint64, error) {
	var keys [][]byte
	for _, e := range events {
		if d, ok := e.Payload.(domain.MessageDeleted); ok && d.Sequence == 0 {
			keys = append(keys, messageKey(e.ThreadID, d.MessageID))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	out := map[string]uint64{}
	rows, err := p.store.GetMulti(ctx, TableMessages, keys)
	if err != nil {
		return nil, fmt.Errorf("read %d deleted messages: %w", len(keys), err)
	}
	for _, r := range rows {
		if r.Cells != nil {
			m, err := messageFromRow(r)
			if err != nil {
				return nil, err
			}
			out[string(r.Key)] = m.Sequence
		}
	}
	return out, nil
}

// apply folds one event into the thread's read model and appends the
// message-row mutations it implies to ms.
func apply(ms []readstore.Mutation, t *Thread, e domain.Event, sequences map[string]uint64) []readstore.Mutation {
	switch p := e.Payload.(type) {
	case domain.ThreadCreated:
		t.Title, t.Remarks, t.CreatorID = p.Title, p.Remarks, e.ActorID
		t.CreatedAt, t.LastActivityAt = e.OccurredAt, e.OccurredAt
		t.Number = p.Number
		t.joinReads(domain.MembershipOf(p).AddMembers)
		t.historyChanged = append(t.historyChanged, t.FoldMembership(e)...)
		if p.Number != 0 {
			ms = append(ms, readstore.Mutation{Table: TableNumbers, Row: numberKey(p.Number), Put: map[string][]byte{colThread: []byte(e.ThreadID)}})
		}
	case domain.ThreadUpdated:
		if p.Title != nil {
			t.Title = *p.Title
		}
		if p.Remarks != nil {
			t.Remarks = *p.Remarks
		}
	case domain.ThreadDestroyed:
		t.Destroyed = true
	case domain.MembersAdded, domain.MembersRemoved, domain.AdministratorsAdded, domain.AdministratorsRemoved:
		m := domain.MembershipOf(p)
		t.leaveReads(m.RemoveMembers)
		t.joinReads(m.AddMembers)
		t.historyChanged = append(t.historyChanged, t.FoldMembership(e)...)
	case domain.MessagePosted:
		t.MessageCount++
		t.LastActivityAt = e.OccurredAt
		seq := domain.SequenceOf(p, t.LastSequence)
		t.LastSequence = seq
		t.markRead(e.ActorID, p.MessageID, seq)
		for _, a := range p.MentionAccountIDs {
			if a != e.ActorID {
				t.mention(a, seq)
			}
		}
		key := messageKey(e.ThreadID, p.MessageID)
		if sequences != nil {
			sequences[string(key)] = seq
		}
		post := Message{
			SenderID: e.ActorID, Body: p.Body, ReplyToMessageID: p.ReplyToMessageID,
			MentionAccountIDs: p.MentionAccountIDs, CreatedAt: e.OccurredAt,
			Version: e.Version, Sequence: seq, Number: p.Number, ReplyToNumber: p.ReplyToNumber,
		}
		if p.Number != 0 {
			ms = append(ms, readstore.Mutation{Table: TableNumbers, Row: numberKey(p.Number), Put: map[string][]byte{
				colThread: []byte(e.ThreadID), colMessage: []byte(p.MessageID)}})
		}
		cells := map[string][]byte{colPost: encodePost(&post)}
		return append(ms, readstore.Mutation{Table: TableMessages, Row: key, Put: cells})
	case domain.ReadMarkerMoved:
		t.markRead(e.ActorID, p.MessageID, p.Position)
	case domain.MessageEdited:
		return append(ms, readstore.Mutation{Table: TableMessages, Row: messageKey(e.ThreadID, p.MessageID), Put: map[string][]byte{
			colEdit: encodeEdit(p.Body, e.OccurredAt, e.Version),
		}})
	case domain.MessageDeleted:
		key := messageKey(e.ThreadID, p.MessageID)
		seq := p.Sequence
		if seq == 0 {
			var found bool
			if seq, found = sequences[string(key)]; !found {
				// Not there: deleted before (an imported deletion of a
				// message the writer no longer indexes, sent twice).
				return ms
			}
		}
		if t.MessageCount > 0 {
			t.MessageCount--
		}
		t.forget(seq)
		if p.Number != 0 {
			ms = append(ms, readstore.Mutation{Table: TableNumbers, Row: numberKey(p.Number), DeleteRow: true})
		}
		return append(ms, readstore.Mutation{Table: TableMessages, Row: key, DeleteRow: true})
	}
	return ms
}

// appendIndexMutations moves the thread's rows in its members' thread
// lists: gone for accounts that left (or all, once destroyed), new or moved
// where the last activity changed. The rows share one cell map and one
// column list (stores only read them), and their keys one buffer.
func appendIndexMutations(ms []readstore.Mutation, c *threadChange) []readstore.Mutation {
	id := c.after.ID
	moved := !c.after.LastActivityAt.Equal(c.before.LastActivityAt)
	var keep []string
	if !c.after.Destroyed {
		keep = c.after.Members
	}
	leaves := func(a string) bool { return moved || !slices.Contains(keep, a) }
	if !c.exists || c.before.Destroyed {
		leaves = func(string) bool { return false }
	}
	arrives := func(a string) bool { return moved || !slices.Contains(c.before.Members, a) }
	size := 0
	for _, a := range c.before.Members {
		if leaves(a) {
			size += accountThreadKeyLen(a, id)
		}
	}
	for _, a := range keep {
		if arrives(a) {
			size += accountThreadKeyLen(a, id)
		}
	}
	keys := make([]byte, 0, size)
	key := func(a string, last time.Time) []byte {
		start := len(keys)
		keys = appendAccountThreadKey(keys, a, last, id)
		return keys[start:len(keys):len(keys)]
	}
	for _, a := range c.before.Members {
		if leaves(a) {
			ms = append(ms, readstore.Mutation{Table: TableAccountThreads, Row: key(a, c.before.LastActivityAt), DeleteColumns: threadColumn})
		}
	}
	var put map[string][]byte
	for _, a := range keep {
		if arrives(a) {
			if put == nil {
				put = map[string][]byte{colThread: []byte(id)}
			}
			ms = append(ms, readstore.Mutation{Table: TableAccountThreads, Row: key(a, c.after.LastActivityAt), Put: put})
		}
	}
	return ms
}

// threadColumn is the account index's one column.
var threadColumn = []string{colThread}

// threadMutation writes the cells of the thread row that the batch changed:
// a message changes three of them, whatever the thread's size, and cells
// rewritten unchanged would only cost the store compactions and reads.
func threadMutation(c *threadChange) readstore.Mutation {
	var before *Thread
	if c.exists {
		before = &c.before
	}
	m := readstore.Mutation{Table: TableThreads, Row: []byte(c.after.ID), Put: changedThreadCells(before, &c.after)}
	// Only the histories the batch changed are written: a large thread's
	// other members cost nothing per message.
	for _, a := range c.after.historyChanged {
		m.Put[historyFamily+a] = encodeSpans(c.after.History[a])
	}
	for _, a := range c.after.readsChanged {
		m.Put[readFamily+a] = encodeReadState(c.after.Reads[a])
	}
	for _, a := range minus(c.before.Members, c.after.Members) {
		m.DeleteColumns = append(m.DeleteColumns, memberFamily+a, readFamily+a)
	}
	for _, a := range minus(c.before.Administrators, c.after.Administrators) {
		m.DeleteColumns = append(m.DeleteColumns, adminFamily+a)
	}
	return m
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	if len(a)+len(b) <= 32 {
		for _, s := range b {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	set := make(map[string]struct{}, len(a)+len(b))
	for _, s := range a {
		set[s] = struct{}{}
	}
	for _, s := range b {
		if _, ok := set[s]; !ok {
			set[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

// minus returns the elements of a not in b; with b long (a room's
// members) through a set, so that a large room costs linear time.
func minus(a, b []string) []string {
	var out []string
	if len(b) <= 16 {
		for _, s := range a {
			if !slices.Contains(b, s) {
				out = append(out, s)
			}
		}
		return out
	}
	set := make(map[string]struct{}, len(b))
	for _, s := range b {
		set[s] = struct{}{}
	}
	for _, s := range a {
		if _, ok := set[s]; !ok {
			out = append(out, s)
		}
	}
	return out
}
