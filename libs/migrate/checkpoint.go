package migrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Position is a place in the legacy database's binlog.
type Position struct {
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
}

// CurrentPosition is where the binlog is now: what follow starts from to
// apply every change made after.
func CurrentPosition(ctx context.Context, db *sql.DB) (Position, error) {
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return Position{}, fmt.Errorf("binlog position: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return Position{}, err
	}
	if !rows.Next() {
		return Position{}, errors.New("the legacy database writes no binlog (log_bin is off): follow could not continue after the bulk run; turn it on (binlog_format=ROW)")
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return Position{}, err
	}
	var p Position
	if _, err := fmt.Sscan(string(vals[1]), &p.Pos); err != nil {
		return Position{}, fmt.Errorf("binlog position %q: %w", vals[1], err)
	}
	p.File = string(vals[0])
	return p, rows.Err()
}

// checkpoint is a bulk run's progress, in a file: the binlog position it
// started at, the room ids it spans and the chunks it finished.
type checkpoint struct {
	Start      Position `json:"start"`
	Lo         uint64   `json:"first_room"`
	Hi         uint64   `json:"last_room"`
	ChunkRooms uint64   `json:"chunk_rooms"`
	Done       Runs     `json:"chunks_done"`
	Finished   bool     `json:"finished"`
	Counts     Counts   `json:"counts"`
}

// Runs is a set of chunk numbers as sorted, disjoint [first, last] runs:
// chunks finish nearly in order, so a run of any size stays a few numbers.
type Runs [][2]int

// Add puts i in the set.
func (r *Runs) Add(i int) {
	rs := *r
	at := sort.Search(len(rs), func(k int) bool { return rs[k][1] >= i-1 })
	switch {
	case at < len(rs) && rs[at][0] <= i && i <= rs[at][1]:
		return
	case at < len(rs) && rs[at][1] == i-1:
		rs[at][1] = i
		if at+1 < len(rs) && rs[at+1][0] == i+1 {
			rs[at][1] = rs[at+1][1]
			rs = append(rs[:at+1], rs[at+2:]...)
		}
	case at < len(rs) && rs[at][0] == i+1:
		rs[at][0] = i
	default:
		rs = append(rs, [2]int{})
		copy(rs[at+1:], rs[at:])
		rs[at] = [2]int{i, i}
	}
	*r = rs
}

// Has reports whether i is in the set.
func (r Runs) Has(i int) bool {
	at := sort.Search(len(r), func(k int) bool { return r[k][1] >= i })
	return at < len(r) && r[at][0] <= i
}

// Len is how many numbers the set holds.
func (r Runs) Len() int {
	n := 0
	for _, x := range r {
		n += x[1] - x[0] + 1
	}
	return n
}

func (c checkpoint) chunks() int {
	if c.Hi < c.Lo || c.Hi == 0 {
		return 0
	}
	return int((c.Hi-c.Lo)/c.ChunkRooms) + 1
}

// chunk is the room ids of chunk i.
func (c checkpoint) chunk(i int) (lo, hi uint64) {
	lo = c.Lo + uint64(i)*c.ChunkRooms
	return lo, min(lo+c.ChunkRooms-1, c.Hi)
}

func loadCheckpoint(path string) (checkpoint, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("checkpoint: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return checkpoint{}, false, fmt.Errorf("checkpoint %s is not one (remove it to start over): %w", path, err)
	}
	return c, true, nil
}

// save writes the checkpoint whole or not at all: a crash mid-write leaves
// the previous one.
func (c checkpoint) save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
