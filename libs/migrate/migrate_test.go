package migrate

import (
	"strings"
	"testing"
	"time"
)

func TestChunksCoverTheRoomIDsOnce(t *testing.T) {
	tests := []struct {
		lo, hi, size uint64
		chunks       int
	}{
		{1, 1, 10, 1},
		{1, 10, 10, 1},
		{1, 11, 10, 2},
		{5, 1004, 100, 10},
		{0, 0, 10, 0}, // an empty database
	}
	for _, tc := range tests {
		cp := checkpoint{Lo: tc.lo, Hi: tc.hi, ChunkRooms: tc.size}
		if got := cp.chunks(); got != tc.chunks {
			t.Errorf("%d-%d by %d: %d chunks, want %d", tc.lo, tc.hi, tc.size, got, tc.chunks)
			continue
		}
		next := tc.lo
		for i := range cp.chunks() {
			lo, hi := cp.chunk(i)
			if lo != next || hi < lo || hi-lo+1 > tc.size {
				t.Errorf("%d-%d by %d: chunk %d is %d-%d after %d", tc.lo, tc.hi, tc.size, i, lo, hi, next)
			}
			next = hi + 1
		}
		if tc.chunks > 0 && next != tc.hi+1 {
			t.Errorf("%d-%d by %d: chunks end at %d", tc.lo, tc.hi, tc.size, next-1)
		}
	}
}

func TestBinlogRowsBecomeImports(t *testing.T) {
	created := time.Date(2019, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	msgCols := map[string]int{"message_id": 0, "room_id": 1, "account_id": 2, "body": 3, "reply_to": 4, "created_at": 5, "updated_at": 6, "deleted": 7}
	row := func(body any, deleted int8) []any {
		return []any{int64(11), int64(7), int64(1001), body, nil, created, created.Add(time.Minute), deleted}
	}
	tests := []struct {
		name         string
		table, kind  string
		cols         map[string]int
		before, row  []any
		check        func(t *testing.T, c change)
		wantErrField string
	}{
		{name: "message insert", table: "message", kind: "insert", cols: msgCols, row: row([]byte("hi \xff"), 0),
			check: func(t *testing.T, c change) {
				m := c.message
				if c.room != 7 || m.MessageId != 11 || m.AccountId != 1001 || string(m.Body) != "hi \xff" || m.ReplyTo != 0 ||
					!m.CreatedAt.AsTime().Equal(created) || m.Deleted || m.BodyChanged {
					t.Errorf("change %+v, message %+v", c, m)
				}
			}},
		{name: "body updated", table: "message", kind: "update", cols: msgCols, before: row([]byte("old"), 0), row: row([]byte("new"), 0),
			check: func(t *testing.T, c change) {
				if !c.message.BodyChanged {
					t.Error("a changed body is not marked so")
				}
			}},
		{name: "flag updated", table: "message", kind: "update", cols: msgCols, before: row([]byte("same"), 0), row: row("same", 1),
			check: func(t *testing.T, c change) {
				if c.message.BodyChanged || !c.message.Deleted {
					t.Errorf("message %+v: want deleted, body unchanged", c.message)
				}
			}},
		{name: "row deleted", table: "message", kind: "delete", cols: msgCols, row: row([]byte("x"), 0),
			check: func(t *testing.T, c change) {
				if !c.message.Deleted {
					t.Error("a deleted row is not a deletion")
				}
			}},
		{name: "member row, role as its enum index", table: "room_member", kind: "insert",
			cols: map[string]int{"room_id": 0, "account_id": 1, "role": 2, "joined_at": 3},
			row:  []any{int64(7), int64(1001), int64(1), created},
			check: func(t *testing.T, c change) {
				if c.room != 7 || !c.member.Admin || c.member.AccountId != 1001 || c.member.Removed {
					t.Errorf("member %+v", c.member)
				}
			}},
		{name: "member leaves", table: "room_member", kind: "delete",
			cols: map[string]int{"room_id": 0, "account_id": 1, "role": 2, "joined_at": 3},
			row:  []any{int64(7), int64(1001), int64(2), created},
			check: func(t *testing.T, c change) {
				if c.member.Admin || !c.member.Removed {
					t.Errorf("member %+v", c.member)
				}
			}},
		{name: "room with a string time", table: "room", kind: "update",
			cols: map[string]int{"room_id": 0, "name": 1, "description": 2, "created_at": 3, "updated_at": 4, "deleted": 5},
			row:  []any{int64(7), "renamed", nil, "2019-05-06 07:08:09.123", "2019-05-06 07:08:09.123", int8(0)},
			check: func(t *testing.T, c change) {
				if c.room != 7 || string(c.roomRow.Name) != "renamed" || !c.roomRow.CreatedAt.AsTime().Equal(created) {
					t.Errorf("room %+v", c.roomRow)
				}
			}},
		{name: "a value of an unknown type", table: "message", kind: "insert", cols: msgCols,
			row: []any{3.5, int64(7), int64(1001), "x", nil, created, created, int8(0)}, wantErrField: "message_id"},
	}
	for _, tc := range tests {
		c, err := rowChange(tc.table, tc.kind, tc.cols, tc.before, tc.row)
		if tc.wantErrField != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrField) {
				t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.wantErrField)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		tc.check(t, c)
	}
}

func TestReportsShowTheMismatches(t *testing.T) {
	rep := VerifyReport{Rooms: 2, Messages: 10, Mismatches: 1, ByField: map[string]int64{"message.body": 1},
		Samples: []Mismatch{{Room: 7, Message: 11, Field: "message.body", Legacy: "<b>old</b>", Falcon: "new"}}}
	var text, html strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "html": html.String()} {
		if !strings.Contains(out, "message.body") || !strings.Contains(out, "1 mismatches") {
			t.Errorf("%s report lacks the mismatch:\n%s", name, out)
		}
	}
	if strings.Contains(html.String(), "<b>old</b>") {
		t.Error("the HTML report does not escape legacy text")
	}
}

func TestTalliesMerge(t *testing.T) {
	var a, b Tally
	a.Posted.Store(3)
	b.Posted.Store(4)
	b.orphan(99)
	a.merge(&b)
	if c := a.Counts(); c.Posted != 7 || c.Orphans != 1 || len(c.OrphanSamples) != 1 {
		t.Errorf("merged counts %+v", c)
	}
}

func TestRunsHoldChunkNumbersCompactly(t *testing.T) {
	var r Runs
	order := []int{3, 1, 2, 7, 5, 6, 0, 4, 4, 9}
	for _, i := range order {
		r.Add(i)
	}
	if len(r) != 2 || r[0] != [2]int{0, 7} || r[1] != [2]int{9, 9} || r.Len() != 9 {
		t.Fatalf("runs %v (len %d), want [0 7] [9 9]", r, r.Len())
	}
	for i := range 11 {
		if want := i != 8 && i != 10; r.Has(i) != want {
			t.Errorf("Has(%d) = %v", i, r.Has(i))
		}
	}
}
