// Package legacydb is the legacy system's MySQL database as the migration
// sees it: its schema (scripts/legacy/schema.sql), and a synthetic history
// to migrate in tests and benchmarks.
package legacydb

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// SeedConfig shapes a synthetic legacy history.
type SeedConfig struct {
	// Rooms, Accounts and Messages are how many of each.
	Rooms, Accounts, Messages int
	// MaxMembers bounds a room's members; sizes follow a Zipf law (most
	// rooms small, a few large), as do the rooms' shares of the messages.
	MaxMembers int
	// Seed makes the history reproducible.
	Seed uint64
	// BadData mixes in, at BadRate, the rows a real legacy database holds
	// and Falcon cannot take as they are (see BadKinds).
	BadData bool
	BadRate float64
	// Workers insert in parallel, each over its own connection.
	Workers int
	// Start is the first message's time; messages follow every Interval.
	Start    time.Time
	Interval time.Duration
}

// Bad data the seed mixes in, by kind: what the migration must decide on.
const (
	BadInvalidUTF8   = "invalid_utf8"  // a body that is not UTF-8
	BadControlChars  = "control_chars" // a body with control characters
	BadLongBody      = "long_body"     // a body over Falcon's 10,000 characters
	BadLongName      = "long_name"     // a room name over Falcon's 200 characters
	BadDeletedRoom   = "deleted_room"  // a deleted room, with members and messages
	BadMissingRoom   = "missing_room"  // a message of a room that does not exist
	BadAuthorLeft    = "author_left"   // a message whose author is no longer a member
	BadMissingReply  = "missing_reply" // a reply to a message that does not exist
	BadEmptyRoomName = "empty_name"    // a room without a name
	BadNoAdmin       = "no_admin"      // a room none of whose members is an admin
)

// BadKinds lists every kind of bad row the seed makes.
var BadKinds = []string{BadInvalidUTF8, BadControlChars, BadLongBody, BadLongName, BadDeletedRoom, BadMissingRoom,
	BadAuthorLeft, BadMissingReply, BadEmptyRoomName, BadNoAdmin}

// DefaultSeed is a realistic small history.
func DefaultSeed() SeedConfig {
	return SeedConfig{Rooms: 1000, Accounts: 2000, Messages: 100000, MaxMembers: 200, Seed: 1, BadData: true, BadRate: 0.001,
		Workers: 4, Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Interval: 50 * time.Millisecond}
}

// Seeded is what a seed wrote.
type Seeded struct {
	Rooms, Members, Messages int
	// Bad counts the bad rows by kind.
	Bad map[string]int
}

// accountBase makes legacy account ids look like a real system's.
const accountBase = 100000

// Seed fills db (the legacy schema, empty) with a synthetic history and
// reports progress (messages written) through progress, if set.
func Seed(ctx context.Context, db *sql.DB, c SeedConfig, progress func(done int)) (Seeded, error) {
	if c.Rooms < 1 || c.Accounts < 2 || c.Messages < 0 || c.MaxMembers < 2 || c.Workers < 1 {
		return Seeded{}, fmt.Errorf("seed: want at least 1 room, 2 accounts, 2 members a room and 1 worker, not %+v", c)
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	out := Seeded{Bad: map[string]int{}}
	bad := func(kind string) bool {
		if c.BadData && rng.Float64() < c.BadRate {
			out.Bad[kind]++
			return true
		}
		return false
	}
	rooms := make([]room, c.Rooms)
	sizes := rand.NewZipf(rng, 1.3, 2, uint64(min(c.MaxMembers, c.Accounts)-2))
	var roomRows, memberRows []string
	for i := range rooms {
		r := &rooms[i]
		r.id = uint64(i + 1)
		n := 2 + int(sizes.Uint64())
		picked := map[uint64]bool{}
		for len(r.members) < n {
			a := accountBase + uint64(rng.IntN(c.Accounts))
			if !picked[a] {
				picked[a] = true
				r.members = append(r.members, a)
			}
		}
		name := fmt.Sprintf("room %d", r.id)
		switch {
		case bad(BadLongName):
			name = strings.Repeat("n", 240) // fits VARCHAR(255), over Falcon's 200 characters
		case bad(BadEmptyRoomName):
			name = ""
		}
		deleted := 0
		if bad(BadDeletedRoom) {
			deleted, r.deleted = 1, true
		}
		created := c.Start.Add(-time.Duration(c.Rooms-i) * time.Minute)
		roomRows = append(roomRows, fmt.Sprintf("(%d,%s,%s,%s,%s,%d)", r.id, quote(name), quote("about "+name), sqlTime(created), sqlTime(created), deleted))
		noAdmin := bad(BadNoAdmin)
		for j, a := range r.members {
			role := "member"
			if j == 0 && !noAdmin {
				role = "admin"
			}
			memberRows = append(memberRows, fmt.Sprintf("(%d,%d,'%s',%s)", r.id, a, role, sqlTime(created)))
		}
	}
	out.Rooms, out.Members = len(roomRows), len(memberRows)
	if err := insert(ctx, db, "room(room_id,name,description,created_at,updated_at,deleted)", roomRows); err != nil {
		return out, err
	}
	if err := insert(ctx, db, "room_member(room_id,account_id,role,joined_at)", memberRows); err != nil {
		return out, err
	}
	// Messages in chunks, each generated from a seed of its own, so that the
	// history is the same whatever the workers' order.
	const chunk = 20000
	chunks := (c.Messages + chunk - 1) / chunk
	popularity := zipfWeights(c.Rooms, 1.1)
	var done atomic.Int64
	badCounts := make([]map[string]int, chunks)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.Workers)
	for k := range chunks {
		g.Go(func() error {
			first := k * chunk
			n := min(chunk, c.Messages-first)
			rows, badHere := messages(c, rooms, popularity, uint64(first), n)
			badCounts[k] = badHere
			if err := insert(gctx, db, "message(message_id,room_id,account_id,body,reply_to,created_at,updated_at,deleted)", rows); err != nil {
				return err
			}
			d := done.Add(int64(n))
			if progress != nil {
				progress(int(d))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return out, err
	}
	for _, b := range badCounts {
		for k, v := range b {
			out.Bad[k] += v
		}
	}
	out.Messages = c.Messages
	return out, nil
}

type room struct {
	id      uint64
	members []uint64
	deleted bool
}

// messages generates the rows of messages first+1 .. first+n.
func messages(c SeedConfig, rooms []room, popularity []float64, first uint64, n int) ([]string, map[string]int) {
	rng := rand.New(rand.NewPCG(c.Seed, first+1))
	badKinds := map[string]int{}
	bad := func(kind string) bool {
		if c.BadData && rng.Float64() < c.BadRate {
			badKinds[kind]++
			return true
		}
		return false
	}
	last := map[uint64]uint64{} // room -> its last message id in this chunk
	rows := make([]string, 0, n)
	for i := range n {
		id := first + uint64(i) + 1
		r := &rooms[pick(rng, popularity)]
		roomID := r.id
		author := r.members[rng.IntN(len(r.members))]
		body := fmt.Sprintf("message %d in room %d", id, roomID)
		switch {
		case bad(BadInvalidUTF8):
			body = "broken \xff\xfe bytes"
		case bad(BadControlChars):
			body = "bell\x07 and null\x00 inside"
		case bad(BadLongBody):
			body = strings.Repeat("x", 10050)
		}
		if bad(BadMissingRoom) {
			roomID = uint64(len(rooms)) + 1 + uint64(rng.IntN(1000))
		}
		if bad(BadAuthorLeft) {
			author = accountBase + uint64(c.Accounts) + uint64(rng.IntN(1000)) // never a member
		}
		reply := "NULL"
		if prev, ok := last[r.id]; ok && rng.IntN(10) == 0 {
			reply = fmt.Sprint(prev)
		}
		if bad(BadMissingReply) {
			reply = fmt.Sprint(uint64(c.Messages) + 1 + uint64(rng.IntN(1000)))
		}
		created := c.Start.Add(time.Duration(id) * c.Interval)
		updated := created
		if rng.IntN(20) == 0 { // edited
			updated = created.Add(time.Duration(1+rng.IntN(3600)) * time.Second)
		}
		deleted := 0
		if rng.IntN(50) == 0 {
			deleted = 1
		}
		last[r.id] = id
		rows = append(rows, fmt.Sprintf("(%d,%d,%d,%s,%s,%s,%s,%d)", id, roomID, author, quote(body), reply, sqlTime(created), sqlTime(updated), deleted))
	}
	return rows, badKinds
}

// zipfWeights are the cumulative shares of n items ranked by a Zipf law of
// exponent s.
func zipfWeights(n int, s float64) []float64 {
	cum := make([]float64, n)
	total := 0.0
	for i := range n {
		total += 1 / math.Pow(float64(i+1), s)
		cum[i] = total
	}
	for i := range cum {
		cum[i] /= total
	}
	return cum
}

func pick(rng *rand.Rand, cum []float64) int {
	u := rng.Float64()
	lo, hi := 0, len(cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if cum[mid] < u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// insert writes rows into table in multi-row INSERTs of at most 1,000 rows.
func insert(ctx context.Context, db *sql.DB, table string, rows []string) error {
	for len(rows) > 0 {
		n := min(len(rows), 1000)
		q := "INSERT INTO " + table + " VALUES " + strings.Join(rows[:n], ",")
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("seed %s: %w", strings.SplitN(table, "(", 2)[0], err)
		}
		rows = rows[n:]
	}
	return nil
}

// quote is a MySQL string literal of s, its bytes as they are (hex: no
// escaping to get wrong, invalid UTF-8 kept).
func quote(s string) string {
	if s == "" {
		return "''"
	}
	return fmt.Sprintf("X'%x'", s)
}

func sqlTime(t time.Time) string { return "'" + t.UTC().Format("2006-01-02 15:04:05.000") + "'" }
