package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	// The legacy database's driver.
	_ "github.com/go-sql-driver/mysql"
)

// legacyConfig shapes the legacy scenario: the legacy system still taking
// writes while falcon migrate follow applies them.
type legacyConfig struct {
	dsn   string
	rate  int
	rooms int
	conns int
}

// legacyWrites writes into the legacy database at a fixed rate for the
// duration, open loop: 85% new messages (created_at now, UTC, so follow's
// insert lag is commit-to-import), 10% edits and 5% deletions of messages
// this run wrote. It reports the rate it kept and how late its writes were.
func legacyWrites(c config, l legacyConfig) error {
	if l.rate < 1 || l.rooms < 1 || l.conns < 1 || c.duration <= 0 {
		return errors.New("-rate, -legacy-rooms, -legacy-conns and -duration must be positive")
	}
	db, err := sql.Open("mysql", l.dsn)
	if err != nil {
		return fmt.Errorf("-legacy-dsn: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(l.conns)
	db.SetMaxIdleConns(l.conns)
	ctx, cancel := context.WithTimeout(context.Background(), c.duration+time.Minute)
	defer cancel()
	var next, first uint64
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(message_id), 0) FROM message").Scan(&first); err != nil {
		return fmt.Errorf("the legacy database: %w", err)
	}
	next = first
	var rooms []uint64
	rows, err := db.QueryContext(ctx, "SELECT room_id FROM room WHERE deleted = 0 ORDER BY room_id LIMIT ?", l.rooms)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		rooms = append(rooms, id)
	}
	if err := rows.Close(); err != nil || len(rooms) == 0 {
		return fmt.Errorf("no rooms to write into (seed the legacy database first): %v", err)
	}
	// Authors: each room's first member.
	authors := map[uint64]uint64{}
	for _, r := range rooms {
		var a uint64
		if err := db.QueryRowContext(ctx, "SELECT account_id FROM room_member WHERE room_id = ? ORDER BY account_id LIMIT 1", r).Scan(&a); err == nil {
			authors[r] = a
		}
	}

	work := make(chan time.Time, l.conns)
	var (
		done, failed atomic.Int64
		mu           sync.Mutex
		late         []time.Duration
		written      []uint64
	)
	rng := rand.New(rand.NewPCG(1, 2))
	var rngMu sync.Mutex
	pick := func() (float64, uint64) {
		rngMu.Lock()
		defer rngMu.Unlock()
		return rng.Float64(), rooms[rng.IntN(len(rooms))]
	}
	var wg sync.WaitGroup
	for range l.conns {
		wg.Go(func() {
			for due := range work {
				mu.Lock()
				late = append(late, time.Since(due))
				mu.Unlock()
				p, room := pick()
				mu.Lock()
				var old uint64
				if len(written) > 0 {
					old = written[int(p*1e9)%len(written)]
				}
				mu.Unlock()
				var err error
				switch {
				case p < 0.10 && old != 0:
					_, err = db.ExecContext(ctx, "UPDATE message SET body = CONCAT(body, ' (edited)'), updated_at = UTC_TIMESTAMP(3) WHERE message_id = ?", old)
				case p < 0.15 && old != 0:
					_, err = db.ExecContext(ctx, "UPDATE message SET deleted = 1, updated_at = UTC_TIMESTAMP(3) WHERE message_id = ?", old)
				default:
					id := atomic.AddUint64(&next, 1)
					_, err = db.ExecContext(ctx, `INSERT INTO message (message_id, room_id, account_id, body, created_at, updated_at)
						VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`, id, room, authors[room], fmt.Sprintf("live message %d", id))
					if err == nil {
						mu.Lock()
						written = append(written, id)
						mu.Unlock()
					}
				}
				if err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		})
	}
	start := time.Now()
	interval := time.Second / time.Duration(l.rate)
	for due := start; time.Since(start) < c.duration; due = due.Add(interval) {
		time.Sleep(time.Until(due))
		work <- due
	}
	close(work)
	wg.Wait()
	took := time.Since(start)
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	q := func(p float64) time.Duration { return quantile(late, p) }
	fmt.Printf("legacy writes: %d in %s (%.0f/s, target %d/s), %d failed; start delay p50 %s p99 %s; messages %d-%d\n",
		done.Load(), took.Round(time.Millisecond), float64(done.Load())/took.Seconds(), l.rate, failed.Load(),
		q(0.5).Round(time.Microsecond), q(0.99).Round(time.Microsecond), first+1, next)
	return nil
}
