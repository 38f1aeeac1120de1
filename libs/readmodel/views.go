package readmodel

import (
	"slices"
	"strings"
	"time"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// Thread is the read model of a thread.
type Thread struct {
	ID             string
	Title          string
	Remarks        string
	CreatorID      string
	Members        []string
	Administrators []string
	CreatedAt      time.Time
	LastActivityAt time.Time
	MessageCount   uint64
	Version        uint64
	Destroyed      bool
	// History is the membership history: who was a member at which
	// versions. Threads projected before it was kept have none until a
	// rebuild; MemberAt then falls back to the current members.
	History History
	// LastSequence is the Sequence of the last message posted.
	LastSequence uint64
	// Deleted are the Sequences of deleted messages, ascending.
	Deleted []uint64
	// Reads are the members' read states.
	Reads map[string]ReadState
	// Number is the thread's numeric id (0 if it has none).
	Number uint64

	// historyChanged and readsChanged list the accounts whose history and
	// read state the projector changed.
	historyChanged []string
	readsChanged   []string
	// historyShared and readsShared say that History and Reads are still
	// the maps of the state a batch started from, which must not change
	// (the projector keeps it): they are copied before the first change,
	// which most batches of posts never make to History.
	historyShared, readsShared bool
}

// MemberAt reports whether account was a member at version v.
func (t *Thread) MemberAt(account string, v uint64) bool {
	if len(t.History) == 0 {
		return t.IsMember(account)
	}
	return t.History.MemberAt(account, v)
}

// IsMember reports whether account may read the thread.
func (t *Thread) IsMember(account string) bool { return slices.Contains(t.Members, account) }

// Message is the read model of a message.
type Message struct {
	ID                string
	ThreadID          string
	SenderID          string
	Body              string
	ReplyToMessageID  string
	MentionAccountIDs []string
	CreatedAt         time.Time
	EditedAt          time.Time
	Version           uint64
	// Sequence is the message's position in its thread (0 if projected
	// before positions were kept).
	Sequence uint64
	// Number is the message's numeric id and ReplyToNumber the replied-to
	// message's (0 if none).
	Number, ReplyToNumber uint64
}

func threadFromRow(r readstore.Row) Thread {
	t := Thread{
		ID:             string(r.Key),
		Title:          string(r.Value(colTitle)),
		Remarks:        string(r.Value(colRemarks)),
		CreatorID:      string(r.Value(colCreator)),
		CreatedAt:      decTime(r.Value(colCreated)),
		LastActivityAt: decTime(r.Value(colLast)),
		MessageCount:   decUint(r.Value(colCount)),
		Version:        decUint(r.Value(colVersion)),
		Destroyed:      len(r.Value(colDestroyed)) > 0,
		LastSequence:   decUint(r.Value(colSequence)),
		Deleted:        decodePositions(r.Value(colDeleted)),
		Number:         decUint(r.Value(colNumber)),
	}
	for _, c := range r.Cells {
		if a, ok := strings.CutPrefix(c.Column, memberFamily); ok {
			t.Members = append(t.Members, a)
		} else if a, ok := strings.CutPrefix(c.Column, adminFamily); ok {
			t.Administrators = append(t.Administrators, a)
		} else if a, ok := strings.CutPrefix(c.Column, historyFamily); ok {
			if t.History == nil {
				t.History = History{}
			}
			t.History[a] = decodeSpans(c.Value)
		} else if a, ok := strings.CutPrefix(c.Column, readFamily); ok {
			if t.Reads == nil {
				t.Reads = map[string]ReadState{}
			}
			t.Reads[a] = decodeReadState(c.Value)
		}
	}
	slices.Sort(t.Members)
	slices.Sort(t.Administrators)
	return t
}

// changedThreadCells is the cells of t's row that differ from before's (all
// of them when before is nil, a new row). Cells that t no longer has are
// the caller's to delete.
func changedThreadCells(before, t *Thread) map[string][]byte {
	if before == nil {
		return threadCells(t)
	}
	cells := map[string][]byte{}
	if t.Title != before.Title {
		cells[colTitle] = []byte(t.Title)
	}
	if t.Remarks != before.Remarks {
		cells[colRemarks] = []byte(t.Remarks)
	}
	if t.CreatorID != before.CreatorID {
		cells[colCreator] = []byte(t.CreatorID)
	}
	if !t.CreatedAt.Equal(before.CreatedAt) {
		cells[colCreated] = encTime(t.CreatedAt)
	}
	if !t.LastActivityAt.Equal(before.LastActivityAt) {
		cells[colLast] = encTime(t.LastActivityAt)
	}
	if t.MessageCount != before.MessageCount {
		cells[colCount] = encUint(t.MessageCount)
	}
	if t.Version != before.Version {
		cells[colVersion] = encUint(t.Version)
	}
	if t.Destroyed && !before.Destroyed {
		cells[colDestroyed] = []byte{1}
	}
	if t.LastSequence != before.LastSequence {
		cells[colSequence] = encUint(t.LastSequence)
	}
	if t.Number != before.Number {
		cells[colNumber] = encUint(t.Number)
	}
	if !slices.Equal(t.Deleted, before.Deleted) {
		cells[colDeleted] = appendPositions(nil, t.Deleted)
	}
	// The summary holds the version, which every batch written moves: it is
	// always rewritten, never compared.
	cells[colSummary] = encodeSummary(t)
	for _, m := range t.Members {
		if !slices.Contains(before.Members, m) {
			cells[memberFamily+m] = []byte{}
		}
	}
	for _, a := range t.Administrators {
		if !slices.Contains(before.Administrators, a) {
			cells[adminFamily+a] = []byte{}
		}
	}
	return cells
}

func threadCells(t *Thread) map[string][]byte {
	cells := map[string][]byte{
		colTitle:   []byte(t.Title),
		colRemarks: []byte(t.Remarks),
		colCreator: []byte(t.CreatorID),
		colCreated: encTime(t.CreatedAt),
		colLast:    encTime(t.LastActivityAt),
		colCount:   encUint(t.MessageCount),
		colVersion: encUint(t.Version),
		colSummary: encodeSummary(t),
	}
	if t.Destroyed {
		cells[colDestroyed] = []byte{1}
	}
	if t.LastSequence != 0 {
		cells[colSequence] = encUint(t.LastSequence)
	}
	if t.Number != 0 {
		cells[colNumber] = encUint(t.Number)
	}
	if len(t.Deleted) > 0 {
		cells[colDeleted] = appendPositions(nil, t.Deleted)
	}
	for _, m := range t.Members {
		cells[memberFamily+m] = []byte{}
	}
	for _, a := range t.Administrators {
		cells[adminFamily+a] = []byte{}
	}
	return cells
}
