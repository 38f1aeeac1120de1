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

// Message returns one message; ok is false if it does not exist (or was
// deleted).
func (r *Reader) Message(ctx context.Context, threadID, messageID string) (Message, bool, error) {
	row, ok, err := r.store.Get(ctx, TableMessages, messageKey(threadID, messageID))
	if err != nil || !ok {
		return Message{}, false, err
	}
	return messageFromRow(row), true, nil
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
		m := messageFromRow(row)
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
	Thread Thread
	Cursor []byte
}

// AccountThreads returns up to limit of an account's threads, most recent
// activity first, after the cursor of an earlier call (nil: from the start).
func (r *Reader) AccountThreads(ctx context.Context, account string, cursor []byte, limit int) ([]Listed, error) {
	s := readstore.Scan{Start: accountPrefix(account), Stop: accountPrefixEnd(account), Limit: limit}
	if cursor != nil {
		if !bytes.HasPrefix(cursor, s.Start) {
			return nil, ErrBadCursor
		}
		s.Start = append(bytes.Clone(cursor), 0x00)
	}
	rows, err := r.store.Scan(ctx, TableAccountThreads, s)
	if err != nil {
		return nil, fmt.Errorf("scan threads of account %s: %w", account, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([][]byte, len(rows))
	for i, row := range rows {
		ids[i] = row.Cells[colThread]
	}
	trows, err := r.store.GetMulti(ctx, TableThreads, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d threads of account %s: %w", len(ids), account, err)
	}
	out := make([]Listed, 0, len(trows))
	for i, tr := range trows {
		if tr.Cells != nil {
			out = append(out, Listed{Thread: threadFromRow(tr), Cursor: rows[i].Key})
		}
	}
	return out, nil
}
