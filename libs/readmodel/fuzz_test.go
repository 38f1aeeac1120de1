package readmodel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/pebblestore"
)

// FuzzAccountThreadsCursor: whatever page token a client sends back, a
// thread list holds only the caller's threads, or the token is refused;
// never another account's threads, never a panic.
func FuzzAccountThreadsCursor(f *testing.F) {
	store, err := pebblestore.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	p, r := NewProjector(store), NewReader(store)
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	owners := map[string]string{}
	for i, creator := range []string{"alice", "alice", "alicia", "bob", "al", "alice.b"} {
		id := ulid.Make().String()
		th := domain.NewThread(id)
		e, _, err := th.Decide(domain.CreateThread{Title: "t"}, domain.Meta{ActorID: creator, EventID: ulid.Make().String(), Now: now.Add(time.Duration(i) * time.Second)})
		if err != nil {
			f.Fatal(err)
		}
		if _, err := p.Apply(ctx, []domain.Event{*e}); err != nil {
			f.Fatal(err)
		}
		owners[id] = creator
	}
	first, err := r.AccountThreads(ctx, "alice", nil, 1)
	if err != nil || len(first) != 1 {
		f.Fatalf("first page: %v %v", first, err)
	}
	f.Add(first[0].Cursor)
	f.Add([]byte("alice\x00"))
	f.Add([]byte("alice\x01"))
	f.Add([]byte("bob\x00"))
	f.Add([]byte("alic"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, cursor []byte) {
		listed, err := r.AccountThreads(ctx, "alice", cursor, 10)
		if errors.Is(err, ErrBadCursor) {
			return
		}
		if err != nil {
			t.Fatalf("cursor %q: %v", cursor, err)
		}
		for _, l := range listed {
			if owners[l.Summary.ID] != "alice" {
				t.Fatalf("cursor %q lists thread %s of %q to alice", cursor, l.Summary.ID, owners[l.Summary.ID])
			}
		}
	})
}
