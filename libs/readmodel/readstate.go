package readmodel

import (
	"encoding/binary"
	"maps"
	"slices"
	"sort"
)

// ReadState is one member's reading of a thread, kept in the thread's row
// (family r, a column per member) so that it is written with the version
// that guards the row: a batch applied twice changes nothing twice.
type ReadState struct {
	// Position is the Sequence of the last message the member has read
	// (posting reads; joining starts at the thread's last message).
	Position uint64
	// MessageID is that message, empty before the member read any.
	MessageID string
	// Mentions are the Sequences, ascending, of the live messages after
	// Position that mention the member: its unread mentions.
	Mentions []uint64
}

// Unread is what a member has not read of a thread.
type Unread struct {
	// Messages is the live messages after the member's marker: the
	// difference of positions less the messages deleted in between, so
	// that it costs a search of the deleted positions, never a scan of the
	// history.
	Messages uint64
	// Mentions is the unread messages that mention the member.
	Mentions uint64
	// LastReadMessageID is the message the marker is at ("" before any).
	LastReadMessageID string
}

// UnreadBy returns what account has not read of the thread. A member the
// read model has no state for (projected before read state was kept) has
// read everything.
func (t *Thread) UnreadBy(account string) Unread {
	r, ok := t.Reads[account]
	if !ok {
		return Unread{}
	}
	return unread(t.LastSequence, t.Deleted, r)
}

// unread is what a member in state r has not read of a thread whose last
// message is at last, with messages deleted at the ascending positions
// deleted.
func unread(last uint64, deleted []uint64, r ReadState) Unread {
	pos := min(r.Position, last)
	after := len(deleted) - sort.Search(len(deleted), func(i int) bool { return deleted[i] > pos })
	return Unread{Messages: last - pos - uint64(after), Mentions: uint64(len(r.Mentions)), LastReadMessageID: r.MessageID}
}

// setRead records account's new state, to be written with the row.
func (t *Thread) setRead(account string, r ReadState) {
	t.ownReads()
	if t.Reads == nil {
		t.Reads = map[string]ReadState{}
	}
	t.Reads[account] = r
	if !slices.Contains(t.readsChanged, account) {
		t.readsChanged = append(t.readsChanged, account)
	}
}

// joinReads starts the markers of accounts becoming members at the last
// message (call before the membership fold: who is new is decided there).
func (t *Thread) joinReads(added []string) {
	for _, a := range added {
		if !t.IsMember(a) {
			t.setRead(a, ReadState{Position: t.LastSequence})
		}
	}
}

// leaveReads forgets the state of accounts no longer members; the
// projector deletes their columns.
func (t *Thread) leaveReads(removed []string) {
	t.ownReads()
	for _, a := range removed {
		delete(t.Reads, a)
		t.readsChanged = slices.DeleteFunc(t.readsChanged, func(s string) bool { return s == a })
	}
}

// ownReads makes Reads t's own to change.
func (t *Thread) ownReads() {
	if t.readsShared {
		t.Reads = maps.Clone(t.Reads)
		t.readsShared = false
	}
}

// markRead moves account's marker forward to the message at pos.
func (t *Thread) markRead(account, messageID string, pos uint64) {
	r, ok := t.Reads[account]
	if !ok && !t.IsMember(account) || ok && pos <= r.Position {
		return
	}
	t.setRead(account, ReadState{Position: pos, MessageID: messageID, Mentions: above(r.Mentions, pos)})
}

// mention records an unread mention of account at pos.
func (t *Thread) mention(account string, pos uint64) {
	r, ok := t.Reads[account]
	if !ok || pos <= r.Position || slices.Contains(r.Mentions, pos) {
		return
	}
	ms := append(slices.Clone(r.Mentions), pos)
	slices.Sort(ms)
	r.Mentions = ms
	t.setRead(account, r)
}

// forget takes a deleted message at pos out of the counts: into the
// deleted positions, out of every member's unread mentions (deleting is
// rare; who was mentioned need not be read back).
func (t *Thread) forget(pos uint64) {
	if pos == 0 {
		return
	}
	if i, found := slices.BinarySearch(t.Deleted, pos); !found {
		t.Deleted = slices.Insert(slices.Clone(t.Deleted), i, pos)
	}
	for a, r := range t.Reads {
		if !slices.Contains(r.Mentions, pos) {
			continue
		}
		r.Mentions = slices.DeleteFunc(slices.Clone(r.Mentions), func(p uint64) bool { return p == pos })
		t.setRead(a, r)
	}
}

// above returns the positions of ps after pos, in a new slice.
func above(ps []uint64, pos uint64) []uint64 {
	var out []uint64
	for _, p := range ps {
		if p > pos {
			out = append(out, p)
		}
	}
	return out
}

// encodeReadState: position, message id, then the mentions as ascending
// deltas, all varints.
func encodeReadState(r ReadState) []byte {
	b := binary.AppendUvarint(nil, r.Position)
	b = binary.AppendUvarint(b, uint64(len(r.MessageID)))
	b = append(b, r.MessageID...)
	return appendPositions(b, r.Mentions)
}

func decodeReadState(b []byte) ReadState {
	var r ReadState
	var n int
	r.Position, n = binary.Uvarint(b)
	if n <= 0 {
		return ReadState{}
	}
	b = b[n:]
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return ReadState{Position: r.Position}
	}
	r.MessageID = string(b[n : n+int(l)])
	r.Mentions = decodePositions(b[n+int(l):])
	return r
}

// appendPositions appends ascending positions: their count, then deltas.
func appendPositions(b []byte, ps []uint64) []byte {
	b = binary.AppendUvarint(b, uint64(len(ps)))
	prev := uint64(0)
	for _, p := range ps {
		b = binary.AppendUvarint(b, p-prev)
		prev = p
	}
	return b
}

func decodePositions(b []byte) []uint64 {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil
	}
	b = b[k:]
	out := make([]uint64, 0, n)
	prev := uint64(0)
	for range n {
		d, k := binary.Uvarint(b)
		if k <= 0 {
			return out
		}
		prev += d
		out = append(out, prev)
		b = b[k:]
	}
	return out
}
