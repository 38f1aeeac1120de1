package legacydb_test

import (
	"context"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/legacydb"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// TestSeedWritesARealisticHistory: the seed writes the rooms, members and
// messages asked for, with replies, edits, deletions and the bad data,
// the same history for the same seed.
func TestSeedWritesARealisticHistory(t *testing.T) {
	db, _ := testenv.LegacyDB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	c := legacydb.DefaultSeed()
	c.Rooms, c.Accounts, c.Messages, c.BadRate = 200, 300, 30000, 0.01
	var progress int
	got, err := legacydb.Seed(ctx, db, c, func(done int) { progress = max(progress, done) })
	if err != nil {
		t.Fatal(err)
	}
	if progress != c.Messages {
		t.Errorf("progress ended at %d of %d", progress, c.Messages)
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	checks := []struct {
		what string
		got  int
		ok   func(int) bool
	}{
		{"rooms", count("SELECT COUNT(*) FROM room"), func(n int) bool { return n == c.Rooms }},
		{"members", count("SELECT COUNT(*) FROM room_member"), func(n int) bool { return n == got.Members && n >= 2*c.Rooms }},
		{"messages", count("SELECT COUNT(*) FROM message"), func(n int) bool { return n == c.Messages }},
		{"replies", count("SELECT COUNT(*) FROM message WHERE reply_to IS NOT NULL"), func(n int) bool { return n > c.Messages/40 }},
		{"edits", count("SELECT COUNT(*) FROM message WHERE updated_at > created_at"), func(n int) bool { return n > c.Messages/40 }},
		{"deletions", count("SELECT COUNT(*) FROM message WHERE deleted = 1"), func(n int) bool { return n > c.Messages/100 }},
		{"invalid UTF-8 bodies", count("SELECT COUNT(*) FROM message WHERE CONVERT(body USING binary) LIKE CONCAT('%', X'FF', '%')"), func(n int) bool { return n > 0 && n == got.Bad[legacydb.BadInvalidUTF8] }},
		{"messages of missing rooms", count("SELECT COUNT(*) FROM message m LEFT JOIN room r ON r.room_id = m.room_id WHERE r.room_id IS NULL"), func(n int) bool { return n == got.Bad[legacydb.BadMissingRoom] && n > 0 }},
		{"largest room over 10 members (Zipf)", count("SELECT MAX(c) FROM (SELECT COUNT(*) c FROM room_member GROUP BY room_id) x"), func(n int) bool { return n > 10 }},
	}
	for _, c := range checks {
		if !c.ok(c.got) {
			t.Errorf("%s: %d (seeded %+v)", c.what, c.got, got)
		}
	}
	// The same seed, the same history: a checksum of every message.
	sum := func() int {
		return count("SELECT CAST(SUM(CRC32(CONCAT(message_id, room_id, account_id, body, IFNULL(reply_to, 0), created_at, updated_at, deleted)) % 1000003) AS SIGNED) FROM message")
	}
	before := sum()
	for _, table := range []string{"message", "room_member", "room"} {
		if _, err := db.ExecContext(context.Background(), "DELETE FROM "+table); err != nil {
			t.Fatal(err)
		}
	}
	c.Workers = 1
	if _, err := legacydb.Seed(ctx, db, c, nil); err != nil {
		t.Fatal(err)
	}
	if after := sum(); after != before {
		t.Errorf("the same seed wrote another history: checksum %d, then %d", before, after)
	}
}
