package legacydb

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Room is a row of the room table. Texts are bytes as stored: the columns
// are latin1 and hold whatever the PHP system wrote.
type Room struct {
	ID                   uint64
	Name, Description    []byte
	CreatedAt, UpdatedAt time.Time
	Deleted              bool
}

// Member is a row of room_member.
type Member struct {
	RoomID, AccountID uint64
	Admin             bool
	JoinedAt          time.Time
}

// Message is a row of the message table; ReplyTo is 0 for NULL.
type Message struct {
	ID, RoomID, AccountID uint64
	Body                  []byte
	ReplyTo               uint64
	CreatedAt, UpdatedAt  time.Time
	Deleted               bool
}

// Span is the range of room ids that rooms, members and messages name:
// messages of rooms that do not exist are in it too.
func Span(ctx context.Context, db *sql.DB) (lo, hi uint64, err error) {
	var rlo, rhi, mlo, mhi sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MIN(room_id), MAX(room_id) FROM room").Scan(&rlo, &rhi); err != nil {
		return 0, 0, fmt.Errorf("room ids: %w", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT MIN(room_id), MAX(room_id) FROM message").Scan(&mlo, &mhi); err != nil {
		return 0, 0, fmt.Errorf("room ids of messages: %w", err)
	}
	lo, hi = ^uint64(0), 0
	for _, v := range []sql.NullInt64{rlo, mlo} {
		if v.Valid {
			lo = min(lo, uint64(v.Int64))
		}
	}
	for _, v := range []sql.NullInt64{rhi, mhi} {
		if v.Valid {
			hi = max(hi, uint64(v.Int64))
		}
	}
	if lo > hi {
		return 0, 0, nil
	}
	return lo, hi, nil
}

// Count returns how many rows a table has.
func Count(ctx context.Context, db *sql.DB, table string) (int64, error) {
	switch table {
	case "room", "room_member", "message":
	default:
		return 0, fmt.Errorf("no legacy table %q", table)
	}
	var n int64
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n, err
}

// Rooms returns the rooms whose ids are in [lo, hi], in id order.
func Rooms(ctx context.Context, db *sql.DB, lo, hi uint64) ([]Room, error) {
	rows, err := db.QueryContext(ctx, `SELECT room_id, name, COALESCE(description, ''), created_at, updated_at, deleted
		FROM room WHERE room_id BETWEEN ? AND ? ORDER BY room_id`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("rooms %d-%d: %w", lo, hi, err)
	}
	defer rows.Close()
	var out []Room
	for rows.Next() {
		var r Room
		if err := rows.Scan(&r.ID, &r.Name, &r.Description, &r.CreatedAt, &r.UpdatedAt, &r.Deleted); err != nil {
			return nil, fmt.Errorf("rooms %d-%d: %w", lo, hi, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Members returns the members of the rooms whose ids are in [lo, hi], by
// room and account.
func Members(ctx context.Context, db *sql.DB, lo, hi uint64) ([]Member, error) {
	rows, err := db.QueryContext(ctx, `SELECT room_id, account_id, role = 'admin', joined_at
		FROM room_member WHERE room_id BETWEEN ? AND ? ORDER BY room_id, account_id`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("members of rooms %d-%d: %w", lo, hi, err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.RoomID, &m.AccountID, &m.Admin, &m.JoinedAt); err != nil {
			return nil, fmt.Errorf("members of rooms %d-%d: %w", lo, hi, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// EachMessage calls fn for every message of the rooms whose ids are in
// [lo, hi], by room and id, streaming: memory does not grow with the
// rooms' sizes.
func EachMessage(ctx context.Context, db *sql.DB, lo, hi uint64, fn func(Message) error) error {
	rows, err := db.QueryContext(ctx, `SELECT message_id, room_id, account_id, body, COALESCE(reply_to, 0), created_at, updated_at, deleted
		FROM message WHERE room_id BETWEEN ? AND ? ORDER BY room_id, message_id`, lo, hi)
	if err != nil {
		return fmt.Errorf("messages of rooms %d-%d: %w", lo, hi, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Message
		if err := rows.Scan(&m.ID, &m.RoomID, &m.AccountID, &m.Body, &m.ReplyTo, &m.CreatedAt, &m.UpdatedAt, &m.Deleted); err != nil {
			return fmt.Errorf("messages of rooms %d-%d: %w", lo, hi, err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}
