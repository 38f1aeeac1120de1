// Package storetest is the contract of readstore.Store: one suite that every
// implementation must pass with identical results. The store handed to Run
// must have the tables of Tables with their families, and be empty.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// Tables the suite uses, with their families, for stores that need them
// created first.
var Tables = map[string][]string{"t": {"d", "e"}, "other": {"d", "d2"}}

// Run runs the contract against s.
func Run(t *testing.T, s readstore.Store) {
	t.Run("OrderingAndScans", func(t *testing.T) { orderingAndScans(t, s) })
	t.Run("PagingAtBoundaries", func(t *testing.T) { paging(t, s) })
	t.Run("MissingRows", func(t *testing.T) { missing(t, s) })
	t.Run("Columns", func(t *testing.T) { columns(t, s) })
	t.Run("RowAtomicity", func(t *testing.T) { rowAtomicity(t, s) })
	t.Run("LargeValues", func(t *testing.T) { largeValues(t, s) })
	t.Run("ColumnOrder", func(t *testing.T) { columnOrder(t, s) })
	if g, ok := s.(readstore.GroupCommitter); ok {
		t.Run("VisibleBeforeSync", func(t *testing.T) { visibleBeforeSync(t, s, g) })
	}
}

// visibleBeforeSync: a write through Visible is read at once, before any
// Sync, like any other; Sync then succeeds. (That Sync makes it durable
// needs a crash, which each implementation tests its own way.)
func visibleBeforeSync(t *testing.T, s readstore.Store, g readstore.GroupCommitter) {
	ctx := context.Background()
	apply(t, readstore.Visible(s), readstore.Mutation{Table: "other", Row: []byte("group-commit"), Put: map[string][]byte{"d:a": []byte("1")}})
	r, ok, err := s.Get(ctx, "other", []byte("group-commit"))
	if err != nil || !ok || string(r.Value("d:a")) != "1" {
		t.Fatalf("a visible write read back as %v ok %v err %v", r.Cells, ok, err)
	}
	if err := g.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func apply(t *testing.T, s readstore.Store, ms ...readstore.Mutation) {
	t.Helper()
	if err := s.Apply(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
}

func keys(rows []readstore.Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, string(r.Key))
	}
	return out
}

func reversed(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[len(in)-1-i] = s
	}
	return out
}

func orderingAndScans(t *testing.T, s readstore.Store) {
	ctx := context.Background()
	// Binary keys: a zero byte, a key that is a prefix of another, 0xFF.
	ks := [][]byte{[]byte("a"), []byte("a\x00"), []byte("a\x00b"), []byte("ab"), []byte("b"), {0xFF, 0x00}, {0x00}}
	var ms []readstore.Mutation
	for i, k := range ks {
		ms = append(ms, readstore.Mutation{Table: "t", Row: k, Put: map[string][]byte{"d:n": []byte(fmt.Sprint(i)), "d:x": {0}}})
	}
	ms = append(ms, readstore.Mutation{Table: "other", Row: []byte("a"), Put: map[string][]byte{"d:n": []byte("other")}})
	apply(t, s, ms...)
	sorted := []string{"\x00", "a", "a\x00", "a\x00b", "ab", "b", "\xff\x00"}
	cases := []struct {
		name string
		scan readstore.Scan
		want []string
	}{
		{"all", readstore.Scan{}, sorted},
		{"limit", readstore.Scan{Limit: 2}, sorted[:2]},
		{"start inclusive stop exclusive", readstore.Scan{Start: []byte("a\x00"), Stop: []byte("ab")}, []string{"a\x00", "a\x00b"}},
		{"reverse all", readstore.Scan{Reverse: true}, reversed(sorted)},
		{"reverse from start inclusive", readstore.Scan{Reverse: true, Start: []byte("ab"), Limit: 3}, []string{"ab", "a\x00b", "a\x00"}},
		{"reverse to stop exclusive", readstore.Scan{Reverse: true, Start: []byte("b"), Stop: []byte("a\x00")}, []string{"b", "ab", "a\x00b"}},
		{"start past end", readstore.Scan{Start: []byte{0xFF, 0x01}}, nil},
		{"empty range", readstore.Scan{Start: []byte("b"), Stop: []byte("a")}, nil},
	}
	for _, tc := range cases {
		rows, err := s.Scan(ctx, "t", tc.scan)
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(rows); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: rows %q, want %q", tc.name, got, tc.want)
		}
		for _, r := range rows {
			if len(r.Cells) != 2 {
				t.Errorf("%s: row %q has %d cells, want 2", tc.name, r.Key, len(r.Cells))
			}
		}
	}
	if r, ok, err := s.Get(ctx, "other", []byte("a")); err != nil || !ok || string(r.Value("d:n")) != "other" {
		t.Errorf("the same row key in another table: %v %v %v", r, ok, err)
	}
	if _, ok, _ := s.Get(ctx, "other", []byte("ab")); ok {
		t.Error("a row of another table is visible")
	}
}

func paging(t *testing.T, s readstore.Store) {
	ctx := context.Background()
	var all []string
	for i := 0; i < 10; i++ {
		k := fmt.Sprintf("p%02d", i)
		all = append(all, k)
		apply(t, s, readstore.Mutation{Table: "t", Row: []byte(k), Put: map[string][]byte{"d:v": []byte(k)}})
	}
	stop := []byte("q")
	for _, size := range []int{1, 3, 5, 10, 11} {
		var got []string
		start := []byte("p")
		for {
			rows, err := s.Scan(ctx, "t", readstore.Scan{Start: start, Stop: stop, Limit: size})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, keys(rows)...)
			if len(rows) < size {
				break
			}
			start = append(bytes.Clone(rows[len(rows)-1].Key), 0x00)
		}
		if !reflect.DeepEqual(got, all) {
			t.Errorf("forward pages of %d: %v", size, got)
		}
		got = nil
		start = []byte("p99")
		for first := true; ; first = false {
			rows, err := s.Scan(ctx, "t", readstore.Scan{Start: start, Stop: []byte("p"), Reverse: true, Limit: size + 1})
			if err != nil {
				t.Fatal(err)
			}
			if !first && len(rows) > 0 {
				rows = rows[1:] // the start row is inclusive: it was the last of the previous page
			}
			if len(rows) > size {
				rows = rows[:size]
			}
			got = append(got, keys(rows)...)
			if len(rows) < size {
				break
			}
			start = rows[len(rows)-1].Key
		}
		if !reflect.DeepEqual(got, reversed(all)) {
			t.Errorf("reverse pages of %d: %v", size, got)
		}
	}
}

func missing(t *testing.T, s readstore.Store) {
	ctx := context.Background()
	apply(t, s, readstore.Mutation{Table: "t", Row: []byte("m1"), Put: map[string][]byte{"d:v": []byte("1")}})
	if _, ok, err := s.Get(ctx, "t", []byte("m0")); ok || err != nil {
		t.Errorf("missing row: ok %v, err %v", ok, err)
	}
	rows, err := s.GetMulti(ctx, "t", [][]byte{[]byte("m0"), []byte("m1"), []byte("m2")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Cells != nil || string(rows[1].Value("d:v")) != "1" || rows[2].Cells != nil || string(rows[2].Key) != "m2" {
		t.Errorf("GetMulti with missing rows: %+v", rows)
	}
	if rows, err := s.GetMulti(ctx, "t", nil); err != nil || len(rows) != 0 {
		t.Errorf("GetMulti of nothing: %v %v", rows, err)
	}
}

func columns(t *testing.T, s readstore.Store) {
	ctx := context.Background()
	apply(t, s,
		readstore.Mutation{Table: "t", Row: []byte("c1"), Put: map[string][]byte{"d:a": []byte("1"), "d:b": []byte("2"), "e:a": []byte("3"), "e:ab": []byte("4")}},
		readstore.Mutation{Table: "t", Row: []byte("c2"), Put: map[string][]byte{"d:b": []byte("5"), "d:c": {}}},
		// A row whose key extends c1's: its cells are not c1's.
		readstore.Mutation{Table: "t", Row: []byte("c1d"), Put: map[string][]byte{"d:a": []byte("6")}})
	cells := func(r readstore.Row) string {
		if r.Cells == nil {
			return "none"
		}
		checkCells(t, r)
		var b strings.Builder
		for i, c := range r.Cells {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s=%s", c.Column, c.Value)
		}
		return b.String()
	}
	for _, c := range []struct {
		name    string
		rows    []string
		columns []string
		want    []string
	}{
		{"cells", []string{"c1", "c2"}, []string{"d:b", "e:a"}, []string{"d:b=2 e:a=3", "d:b=5"}},
		{"a family", []string{"c2", "c1"}, []string{"e"}, []string{"none", "e:a=3 e:ab=4"}},
		{"a family and a cell of another", []string{"c1"}, []string{"e", "d:a"}, []string{"d:a=1 e:a=3 e:ab=4"}},
		{"an empty value", []string{"c2"}, []string{"d:c"}, []string{"d:c="}},
		{"a qualifier's prefix is not the cell", []string{"c1"}, []string{"e:"}, []string{"none"}},
		{"missing row and cell", []string{"c0", "c1"}, []string{"d:z"}, []string{"none", "none"}},
		{"a cell asked twice", []string{"c1d"}, []string{"d:a", "d:a"}, []string{"d:a=6"}},
		{"a cell and its family", []string{"c1"}, []string{"e:a", "e"}, []string{"e:a=3 e:ab=4"}},
		{"a family and a cell of it", []string{"c1"}, []string{"e", "e:a", "d:b"}, []string{"d:b=2 e:a=3 e:ab=4"}},
		{"one cell of rows out of order", []string{"c2", "c1d", "c1"}, []string{"d:b"}, []string{"d:b=5", "none", "d:b=2"}},
	} {
		keys := make([][]byte, len(c.rows))
		for i, r := range c.rows {
			keys[i] = []byte(r)
		}
		rows, err := s.GetMulti(ctx, "t", keys, c.columns...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for i, r := range rows {
			if string(r.Key) != c.rows[i] {
				t.Errorf("%s: row %d is %q, want %q", c.name, i, r.Key, c.rows[i])
			}
			got = append(got, cells(r))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: GetMulti(%v, %v) = %v, want %v", c.name, c.rows, c.columns, got, c.want)
		}
	}
}

func rowAtomicity(t *testing.T, s readstore.Store) {
	ctx := context.Background()
	apply(t, s,
		readstore.Mutation{Table: "t", Row: []byte("r1"), Put: map[string][]byte{"d:a": []byte("1"), "d:b": []byte("1")}},
		readstore.Mutation{Table: "t", Row: []byte("r2"), Put: map[string][]byte{"d:a": []byte("1")}},
		readstore.Mutation{Table: "t", Row: []byte("r3"), Put: map[string][]byte{"d:a": []byte("1")}},
	)
	apply(t, s,
		// Columns removed and others written in one mutation.
		readstore.Mutation{Table: "t", Row: []byte("r1"), DeleteColumns: []string{"d:a"}, Put: map[string][]byte{"d:c": []byte("2")}},
		// Written, then deleted in the same batch: gone.
		readstore.Mutation{Table: "t", Row: []byte("r4"), Put: map[string][]byte{"d:a": []byte("1")}},
		readstore.Mutation{Table: "t", Row: []byte("r4"), DeleteRow: true},
		// Deleted whole.
		readstore.Mutation{Table: "t", Row: []byte("r2"), DeleteRow: true},
		// Two puts to a row: the later one wins per cell.
		readstore.Mutation{Table: "t", Row: []byte("r3"), Put: map[string][]byte{"d:a": []byte("2"), "d:b": []byte("2")}},
		readstore.Mutation{Table: "t", Row: []byte("r3"), Put: map[string][]byte{"d:b": []byte("3")}},
	)
	want := map[string]map[string]string{
		"r1": {"d:b": "1", "d:c": "2"},
		"r2": nil,
		"r3": {"d:a": "2", "d:b": "3"},
		"r4": nil,
	}
	for row, cells := range want {
		r, ok, err := s.Get(ctx, "t", []byte(row))
		if err != nil {
			t.Fatal(err)
		}
		checkCells(t, r)
		got := map[string]string{}
		for _, c := range r.Cells {
			got[c.Column] = string(c.Value)
		}
		if cells == nil && ok || cells != nil && !reflect.DeepEqual(got, cells) {
			t.Errorf("row %s: %v (exists %v), want %v", row, got, ok, cells)
		}
	}
}

func largeValues(t *testing.T, s readstore.Store) {
	ctx := context.Background()
	big := bytes.Repeat([]byte{0x00, 0x01, 0xFE, 'x'}, 256<<10) // 1 MiB, binary
	apply(t, s, readstore.Mutation{Table: "t", Row: []byte("big"), Put: map[string][]byte{"d:v": big, "d:empty": {}}})
	r, ok, err := s.Get(ctx, "t", []byte("big"))
	if err != nil || !ok || !bytes.Equal(r.Value("d:v"), big) {
		t.Fatalf("1 MiB value: ok %v, err %v, %d bytes back", ok, err, len(r.Value("d:v")))
	}
	if v, ok := r.Lookup("d:empty"); !ok || len(v) != 0 {
		t.Errorf("an empty value came back as %q (present %v)", v, ok)
	}
}

// columnOrder: a row's cells come in byte order of their columns whatever
// order the store keeps families in ("d2:a" before "d:a"; HBase keeps
// family d before d2), by every kind of read.
func columnOrder(t *testing.T, s readstore.Store) {
	ctx := context.Background()
	apply(t, s, readstore.Mutation{Table: "other", Row: []byte("order"), Put: map[string][]byte{"d:b": []byte("1"), "d2:a": []byte("2"), "d:a": []byte("3")}})
	want := []readstore.Cell{{Column: "d2:a", Value: []byte("2")}, {Column: "d:a", Value: []byte("3")}, {Column: "d:b", Value: []byte("1")}}
	check := func(how string, r readstore.Row, want []readstore.Cell) {
		t.Helper()
		if !reflect.DeepEqual(r.Cells, want) {
			t.Errorf("%s: cells %v, want %v", how, r.Cells, want)
		}
		checkCells(t, r)
	}
	r, _, err := s.Get(ctx, "other", []byte("order"))
	if err != nil {
		t.Fatal(err)
	}
	check("Get", r, want)
	if fam := r.Family("d"); !reflect.DeepEqual(fam, want[1:]) {
		t.Errorf("Family(d) = %v, want %v", fam, want[1:])
	}
	rows, err := s.GetMulti(ctx, "other", [][]byte{[]byte("order")}, "d", "d2:a")
	if err != nil || len(rows) != 1 {
		t.Fatalf("GetMulti: %d rows, %v", len(rows), err)
	}
	check("GetMulti of a family and a cell", rows[0], want)
	for _, reverse := range []bool{false, true} {
		sc := readstore.Scan{Start: []byte("order"), Stop: []byte("order\x00"), Limit: 1}
		if reverse {
			sc = readstore.Scan{Start: []byte("order"), Stop: []byte("orde"), Reverse: true, Limit: 1}
		}
		rows, err := s.Scan(ctx, "other", sc)
		if err != nil || len(rows) != 1 {
			t.Fatalf("Scan reverse %v: %d rows, %v", reverse, len(rows), err)
		}
		check(fmt.Sprintf("Scan reverse %v", reverse), rows[0], want)
	}
}

// checkCells fails t unless r's cells are in column order, once each, and
// Lookup finds each of them.
func checkCells(t *testing.T, r readstore.Row) {
	t.Helper()
	for i, c := range r.Cells {
		if i > 0 && r.Cells[i-1].Column >= c.Column {
			t.Errorf("row %q: cell %s after %s, want column order", r.Key, c.Column, r.Cells[i-1].Column)
		}
		if v, ok := r.Lookup(c.Column); !ok || !bytes.Equal(v, c.Value) {
			t.Errorf("row %q: Lookup(%s) = %q, %v, want %q", r.Key, c.Column, v, ok, c.Value)
		}
	}
}
