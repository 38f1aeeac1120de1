package readstore

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

func TestPebbleContract(t *testing.T) {
	s, err := OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	keys := [][]byte{[]byte("a"), []byte("a\x00"), []byte("a\x00b"), []byte("ab"), []byte("b"), {0xFF, 0x00}, {0x00}}
	var ms []Mutation
	for i, k := range keys {
		ms = append(ms, Mutation{Table: "t", Row: k, Put: map[string][]byte{"d:n": []byte(fmt.Sprint(i)), "d:x": {0}}})
	}
	ms = append(ms, Mutation{Table: "other", Row: []byte("a"), Put: map[string][]byte{"d:n": []byte("other")}})
	if err := s.Apply(ctx, ms); err != nil {
		t.Fatal(err)
	}
	sorted := []string{"\x00", "a", "a\x00", "a\x00b", "ab", "b", "\xff\x00"}
	cases := []struct {
		name string
		scan Scan
		want []string
	}{
		{"all", Scan{}, sorted},
		{"limit", Scan{Limit: 2}, sorted[:2]},
		{"start inclusive stop exclusive", Scan{Start: []byte("a\x00"), Stop: []byte("ab")}, []string{"a\x00", "a\x00b"}},
		{"reverse all", Scan{Reverse: true}, reversed(sorted)},
		{"reverse from start inclusive", Scan{Reverse: true, Start: []byte("ab"), Limit: 3}, []string{"ab", "a\x00b", "a\x00"}},
		{"reverse to stop exclusive", Scan{Reverse: true, Start: []byte("b"), Stop: []byte("a\x00")}, []string{"b", "ab", "a\x00b"}},
		{"start past end", Scan{Start: []byte{0xFF, 0x01}}, nil},
		{"empty range", Scan{Start: []byte("b"), Stop: []byte("a")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.Scan(ctx, "t", tc.scan)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, string(r.Key))
				if len(r.Cells) != 2 {
					t.Errorf("row %q has %d cells, want 2", r.Key, len(r.Cells))
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("rows %q, want %q", got, tc.want)
			}
		})
	}

	if err := s.Apply(ctx, []Mutation{
		{Table: "t", Row: []byte("a"), DeleteColumns: []string{"d:x"}, Put: map[string][]byte{"d:y": []byte("new")}},
		{Table: "t", Row: []byte("a\x00"), DeleteRow: true},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMulti(ctx, "t", [][]byte{[]byte("a"), []byte("a\x00"), []byte("a\x00b")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0].Cells) != 2 || string(got[0].Cells["d:y"]) != "new" || got[0].Cells["d:x"] != nil {
		t.Fatalf("row a after column delete and put: %q, want d:n and d:y=new", got[0].Cells)
	}
	if got[1].Cells != nil {
		t.Fatalf("deleted row still has %q", got[1].Cells)
	}
	if string(got[2].Cells["d:n"]) != "2" {
		t.Fatalf("neighbour of a deleted row was touched: %q", got[2].Cells)
	}
	if _, ok, _ := s.Get(ctx, "other", []byte("a\x00")); ok {
		t.Fatal("a row of another table is visible")
	}
}

func reversed(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[len(in)-1-i] = s
	}
	return out
}
