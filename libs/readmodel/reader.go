package readmodel

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// ErrBadCursor is a page cursor that does not belong to the query.
var ErrBadCursor = errors.New("page token does not belong to this query")

// Reader answers queries from the read store. It does not check access: the
// caller (read-api) does, with the thread it gets here.
type Reader struct {
	store readstore.Store
}

// NewReader returns the queries of the read models in s.
func NewReader(s readstore.Store) *Reader { return &Reader{store: s} }

// Thread returns a thread's read model; ok is false if it was never created.
func (r *Reader) Thread(ctx context.Context, id string) (Thread, bool, error) {
	row, ok, err := r.store.Get(ctx, TableThreads, []byte(id))
	if err != nil || !ok {
		return Thread{}, false, err
	}
	return threadFromRow(row), true, nil
}

// Access is what decides whether an account may read a thread.
type Access struct {
	Version   uint64
	Destroyed bool
	Member    bool
}

// Access reads what decides whether account may read a thread: three cells
// of its row, not the row. ok is false if the thread was never created.
func (r *Reader) Access(ctx context.Context, id, account string) (a Access, ok bool, err error) {
	rows, err := r.store.GetMulti(ctx, TableThreads, [][]byte{[]byte(id)}, colVersion, colDestroyed, memberFamily+account)
	if err != nil || len(rows) != 1 {
		return Access{}, false, err
	}
	row := rows[0]
	v, ok := row.Lookup(colVersion)
	if !ok {
		return Access{}, false, nil
	}
	_, member := row.Lookup(memberFamily + account)
	return Access{Version: decUint(v), Destroyed: len(row.Value(colDestroyed)) > 0, Member: member}, true, nil
}

// Numbered is what a numeric id names: a thread, or a message of a thread.
type Numbered struct {
	ThreadID, MessageID string
}

// ByNumber looks a numeric id up: the thread it names, or the message and
// its thread. ok is false if no thread or live message has it.
func (r *Reader) ByNumber(ctx context.Context, n uint64) (Numbered, bool, error) {
	row, ok, err := r.store.Get(ctx, TableNumbers, numberKey(n))
	if err != nil || !ok {
		return Numbered{}, false, err
	}
	return Numbered{ThreadID: string(row.Value(colThread)), MessageID: string(row.Value(colMessage))}, true, nil
}

// Message returns one message; ok is false if it does not exist (or was
// deleted).
func (r *Reader) Message(ctx context.Context, threadID, messageID string) (Message, bool, error) {
	row, ok, err := r.store.Get(ctx, TableMessages, messageKey(threadID, messageID))
	if err != nil || !ok {
		return Message{}, false, err
	}
	m, err := messageFromRow(row)
	if err != nil {
		return Message{}, false, err
	}
	return m, true, nil
}

// Messages returns up to limit messages of a thread, oldest first from after
// the message id after (exclusive), or newest first when newestFirst, from
// before it. An empty after starts at the beginning (or the end).
func (r *Reader) Messages(ctx context.Context, threadID, after string, newestFirst bool, limit int) ([]Message, error) {
	s := readstore.Scan{Reverse: newestFirst, Limit: limit}
	lo, hi := []byte(threadID), []byte(threadID+"\xff")
	if !newestFirst {
		s.Start, s.Stop = lo, hi
		if after != "" {
			// The smallest key above thread+after.
			s.Start = append(messageKey(threadID, after), 0x00)
		}
	} else {
		s.Start, s.Stop = hi, lo
		if after != "" {
			s.Start = messageKey(threadID, after)
			s.Limit = limit + 1
		}
	}
	rows, err := r.store.Scan(ctx, TableMessages, s)
	if err != nil {
		return nil, fmt.Errorf("scan messages of thread %s: %w", threadID, err)
	}
	out := make([]Message, 0, len(rows))
	for _, row := range rows {
		m, err := messageFromRow(row)
		if err != nil {
			return nil, err
		}
		if m.ID == after {
			continue
		}
		out = append(out, m)
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Listed is a thread in an account's list, with the cursor that continues
// the list after it.
type Listed struct {
	Summary Summary
	Cursor  []byte
}

// AccountThreads returns up to limit of an account's threads, most recent
// activity first, after the cursor of an earlier call (nil: from the start),
// each as the account sees it.
func (r *Reader) AccountThreads(ctx context.Context, account string, cursor []byte, limit int) ([]Listed, error) {
	rows, ids, err := r.accountIndex(ctx, account, cursor, limit)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	trows, err := r.store.GetMulti(ctx, TableThreads, ids, colSummary, colDeleted, adminFamily+account, readFamily+account)
	if err != nil {
		return nil, fmt.Errorf("read %d threads of account %s: %w", len(ids), account, err)
	}
	out := make([]Listed, 0, len(trows))
	var old []int // rows projected before summaries were kept
	for i, tr := range trows {
		if tr.Cells == nil {
			continue
		}
		sum, err := summaryFromRow(account, tr)
		if err != nil {
			old = append(old, len(out))
		}
		out = append(out, Listed{Summary: sum, Cursor: rows[i].Key})
	}
	if len(old) > 0 {
		if err := r.wholeSummaries(ctx, account, out, old); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// accountIndex scans up to limit of an account's index rows after cursor
// (nil: from the start), most recent activity first, with their threads'
// ids.
func (r *Reader) accountIndex(ctx context.Context, account string, cursor []byte, limit int) ([]readstore.Row, [][]byte, error) {
	s := readstore.Scan{Start: accountPrefix(account), Stop: accountPrefixEnd(account), Limit: limit}
	if cursor != nil {
		if !bytes.HasPrefix(cursor, s.Start) {
			return nil, nil, ErrBadCursor
		}
		s.Start = append(bytes.Clone(cursor), 0x00)
	}
	rows, err := r.store.Scan(ctx, TableAccountThreads, s)
	if err != nil {
		return nil, nil, fmt.Errorf("scan threads of account %s: %w", account, err)
	}
	ids := make([][]byte, len(rows))
	for i, row := range rows {
		ids[i] = row.Value(colThread)
	}
	return rows, ids, nil
}

// AccountUnread sums what account has not read of its limit most recently
// active threads: three small cells a thread (the last sequence, the
// deleted positions, the account's read state), not its summary.
func (r *Reader) AccountUnread(ctx context.Context, account string, limit int) (Unread, error) {
	rows, ids, err := r.accountIndex(ctx, account, nil, limit)
	if err != nil || len(rows) == 0 {
		return Unread{}, err
	}
	trows, err := r.store.GetMulti(ctx, TableThreads, ids, colSequence, colDeleted, readFamily+account)
	if err != nil {
		return Unread{}, fmt.Errorf("read the read state of %d threads of account %s: %w", len(ids), account, err)
	}
	var total Unread
	for _, tr := range trows {
		rc, ok := tr.Lookup(readFamily + account)
		if !ok {
			continue // no read state kept (projected before it was): read
		}
		u := unread(decUint(tr.Value(colSequence)), decodePositions(tr.Value(colDeleted)), decodeReadState(rc))
		total.Messages += u.Messages
		total.Mentions += u.Mentions
	}
	return total, nil
}

// summaryFromRow is a thread's summary for account from the cells
// AccountThreads reads.
func summaryFromRow(account string, row readstore.Row) (Summary, error) {
	id := string(row.Key)
	c, ok := row.Lookup(colSummary)
	if !ok {
		return Summary{ID: id}, errBadSummary
	}
	s, last, err := decodeSummary(id, c)
	if err != nil {
		return Summary{ID: id}, fmt.Errorf("thread %s: %w", id, err)
	}
	_, s.Administrator = row.Lookup(adminFamily + account)
	if rc, ok := row.Lookup(readFamily + account); ok {
		s.Unread = unread(last, decodePositions(row.Value(colDeleted)), decodeReadState(rc))
	}
	return s, nil
}

// wholeSummaries makes the summaries of listed[at...] from their whole rows:
// threads projected before the summary cell, until an event rewrites them
// or a rebuild does.
func (r *Reader) wholeSummaries(ctx context.Context, account string, listed []Listed, at []int) error {
	ids := make([][]byte, len(at))
	for i, j := range at {
		ids[i] = []byte(listed[j].Summary.ID)
	}
	rows, err := r.store.GetMulti(ctx, TableThreads, ids)
	if err != nil {
		return fmt.Errorf("read %d threads of account %s: %w", len(ids), account, err)
	}
	for i, row := range rows {
		t := threadFromRow(row)
		listed[at[i]].Summary = summaryOf(&t, account)
	}
	return nil
}
