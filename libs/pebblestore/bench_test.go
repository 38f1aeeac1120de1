package pebblestore

import (
	"context"
	"fmt"
	"testing"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// BenchmarkGetMultiCells reads named cells of 50 rows spread over 2,000
// whose cells were rewritten many times and flushed in between, as the read
// model's thread rows are under load: the versions of a cell lie in the
// memtable and in several sstables, and a cell asked for may not exist
// (m:bob). ns/op is per read of 50 rows, or of one (a caller's access to a
// thread).
func BenchmarkGetMultiCells(b *testing.B) {
	for _, c := range []struct {
		rows  int
		cells []string
	}{
		{50, []string{"d:version"}}, {50, []string{"d:version", "d:destroyed", "m:bob"}},
		{1, []string{"d:version", "d:destroyed", "m:bob"}},
	} {
		cells := c.cells
		b.Run(fmt.Sprintf("rows=%d/cells=%d", c.rows, len(cells)), func(b *testing.B) {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			const rows = 2000
			keys := make([][]byte, rows)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "thread-%06d", i)
			}
			for round := range 9 {
				ms := make([]readstore.Mutation, rows)
				for i, k := range keys {
					ms[i] = readstore.Mutation{Table: "threads", Row: k, Put: map[string][]byte{
						"d:version": fmt.Appendf(nil, "%d", round), "d:title": []byte("a thread"), "m:alice": []byte("admin")}}
				}
				if err := s.Apply(ctx, ms); err != nil {
					b.Fatal(err)
				}
				if round == 8 {
					break // the newest versions stay in the memtable
				}
				if err := s.db.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			asked := make([][]byte, c.rows)
			for n := 0; n < b.N; n++ {
				for i := range asked {
					asked[i] = keys[(n*50+i*41)%rows]
				}
				got, err := s.GetMulti(ctx, "threads", asked, cells...)
				if err != nil || len(got) != c.rows || string(got[0].Value("d:version")) != "8" {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}
