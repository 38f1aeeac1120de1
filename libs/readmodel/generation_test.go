package readmodel

import (
	"context"
	"testing"

	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readstore"
)

func TestGenerationsKeepTheirOwnTables(t *testing.T) {
	ctx := context.Background()
	s, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, err := LoadState(ctx, s); err != nil || st != (State{}) {
		t.Fatalf("a fresh store: %+v, %v; want generation 0, running", st, err)
	}
	g1 := AtGeneration(s, 1)
	if err := g1.Apply(ctx, []readstore.Mutation{{Table: TableThreads, Row: []byte("t"), Put: map[string][]byte{colTitle: []byte("g1")}}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		store readstore.Store
		table string
		found bool
	}{
		{g1, TableThreads, true},
		{s, TableThreads, false},
		{s, "threads_g1", true},
	}
	for _, c := range cases {
		if _, ok, _ := c.store.Get(ctx, c.table, []byte("t")); ok != c.found {
			t.Errorf("Get %s: found %v, want %v", c.table, ok, c.found)
		}
	}
	if err := StoreState(ctx, g1, State{Current: 1, Paused: true}); err != nil {
		t.Fatal(err)
	}
	// The pointer is shared by every generation.
	if st, _ := LoadState(ctx, s); st != (State{Current: 1, Paused: true}) {
		t.Fatalf("pointer read through generation 0: %+v", st)
	}
	if specs := GenerationSpecs(2); len(specs) != len(GenerationTables) || specs[0].Name != "threads_g2" || specs[3].Name != "numbers_g2" {
		t.Fatalf("specs of generation 2: %+v", specs)
	}
}
