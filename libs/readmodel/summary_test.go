package readmodel

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readstore"
)

func TestFirstMembers(t *testing.T) {
	for _, c := range []struct {
		members []string
		want    []string
	}{
		{nil, []string{}},
		{[]string{"b", "a"}, []string{"a", "b"}},
		{[]string{"h", "g", "f", "e", "d", "c", "b", "a"}, []string{"a", "b", "c", "d", "e", "f"}},
		{[]string{"a", "b", "c", "d", "e", "f", "g", "h"}, []string{"a", "b", "c", "d", "e", "f"}},
		{[]string{"d", "h", "a", "g", "b", "f", "c", "e"}, []string{"a", "b", "c", "d", "e", "f"}},
	} {
		if got := firstMembers(c.members, SummaryMembers); !slices.Equal(got, c.want) {
			t.Errorf("firstMembers(%v) = %v, want %v", c.members, got, c.want)
		}
	}
}

func TestSummaryCell(t *testing.T) {
	th := Thread{
		ID: "T", Title: "Quarterly — plans", CreatorID: "alice",
		CreatedAt:      time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		LastActivityAt: time.Date(2026, 2, 2, 3, 4, 5, 6, time.UTC),
		MessageCount:   41, Version: 97, Destroyed: true, LastSequence: 44,
		Members: []string{"zed", "bob", "alice", "carol", "dave", "erin", "frank", "gina"},
	}
	got, last, err := decodeSummary("T", encodeSummary(&th))
	if err != nil {
		t.Fatal(err)
	}
	if want := sharedSummary(&th); !reflect.DeepEqual(got, want) || last != 44 {
		t.Errorf("decoded %+v (last %d), want %+v (last 44)", got, last, want)
	}
	if got.MemberCount != 8 || !slices.Equal(got.FirstMembers, []string{"alice", "bob", "carol", "dave", "erin", "frank"}) {
		t.Errorf("members: %d %v", got.MemberCount, got.FirstMembers)
	}
	empty := Thread{ID: "E"}
	if got, _, err := decodeSummary("E", encodeSummary(&empty)); err != nil || !got.CreatedAt.IsZero() || got.FirstMembers != nil {
		t.Errorf("an empty thread's summary: %+v, %v", got, err)
	}
	// Every truncation of a cell is refused, never read as another summary.
	cell := encodeSummary(&th)
	for n := range len(cell) {
		if _, _, err := decodeSummary("T", cell[:n]); err == nil {
			t.Errorf("a cell cut at %d of %d bytes decoded", n, len(cell))
		}
	}
}

// TestSummariesOfOlderRows: a thread row projected before summaries were
// kept is listed from the whole row, the same as one with a summary.
func TestSummariesOfOlderRows(t *testing.T) {
	ctx := context.Background()
	store, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, r := NewProjector(store), NewReader(store)
	var ids []string
	for i := range 3 {
		th := domain.NewThread(ulid.Make().String())
		ids = append(ids, th.ID())
		var batch []domain.Event
		meta := func() domain.Meta {
			return domain.Meta{ActorID: "alice", EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: time.Now()}
		}
		for _, c := range []domain.Command{
			domain.CreateThread{Title: fmt.Sprint("t", i), MemberIDs: []string{"bob", "carol"}},
			domain.PostMessage{Body: "hello", MentionAccountIDs: []string{"bob"}},
			domain.PostMessage{Body: "again"},
		} {
			e, _, err := th.Decide(c, meta())
			if err != nil {
				t.Fatal(err)
			}
			_ = th.Apply(*e)
			batch = append(batch, *e)
		}
		if _, err := p.Apply(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	before, err := r.AccountThreads(ctx, "bob", nil, 10)
	if err != nil || len(before) != 3 {
		t.Fatalf("%d listed, %v", len(before), err)
	}
	if u := before[0].Summary.Unread; u.Messages != 2 || u.Mentions != 1 {
		t.Fatalf("bob's unread: %+v", u)
	}
	// The first and last rows lose their summaries, as rows of an older
	// projection have none.
	for _, id := range []string{ids[0], ids[2]} {
		if err := store.Apply(ctx, []readstore.Mutation{{Table: TableThreads, Row: []byte(id), DeleteColumns: []string{colSummary}}}); err != nil {
			t.Fatal(err)
		}
	}
	after, err := r.AccountThreads(ctx, "bob", nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("listed from whole rows:\n%+v\nfrom summaries:\n%+v", after, before)
	}
}

// TestTwoProjectorsTakingTurns: a projector remembers the threads it wrote;
// when another wrote them since (their partition moved away and back), it
// reads them again instead of building on what it remembers. The result is
// the same as one projector applying everything.
func TestTwoProjectorsTakingTurns(t *testing.T) {
	ctx := context.Background()
	open := func() readstore.Store {
		s, err := pebblestore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	th := domain.NewThread(ulid.Make().String())
	var batches [][]domain.Event
	decide := func(actor string, c domain.Command) {
		e, _, err := th.Decide(c, domain.Meta{ActorID: actor, EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		_ = th.Apply(*e)
		batches[len(batches)-1] = append(batches[len(batches)-1], *e)
	}
	for i := range 6 {
		batches = append(batches, nil)
		if i == 0 {
			decide("alice", domain.CreateThread{Title: "t", MemberIDs: []string{"bob"}})
		}
		decide("alice", domain.PostMessage{Body: "m", MentionAccountIDs: []string{"bob"}})
		decide("bob", domain.PostMessage{Body: "n"})
		if i == 3 {
			decide("alice", domain.AddMembers{AccountIDs: []string{"carol"}})
		}
	}
	shared, alone := open(), open()
	a, b, one := NewProjector(shared), NewProjector(shared), NewProjector(alone)
	for i, batch := range batches {
		p := a
		if i%3 == 1 { // b takes the partition for a batch now and then
			p = b
		}
		if _, err := p.Apply(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if _, err := one.Apply(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := NewReader(shared).Thread(ctx, th.ID())
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := NewReader(alone).Thread(ctx, th.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || got.MessageCount != 12 || got.UnreadBy("carol").Messages != 4 {
		t.Errorf("taking turns: %+v\none projector: %+v", got, want)
	}
}

// TestSummaryCellsOfTheFirstFormatStillRead: cells written before numeric
// ids (format 1, no number) decode, with no number.
func TestSummaryCellsOfTheFirstFormatStillRead(t *testing.T) {
	th := Thread{ID: "T", Title: "old", Members: []string{"alice"}, Version: 3}
	cell := encodeSummary(&th)
	old := append([]byte{1}, cell[1:len(cell)-1]...) // format 1 had no number (0: one byte)
	got, _, err := decodeSummary("T", old)
	if err != nil || got.Title != "old" || got.Number != 0 || got.Version != 3 {
		t.Fatalf("a format-1 cell: %+v, %v", got, err)
	}
	th.Number = 1<<62 + 9
	if got, _, err := decodeSummary("T", encodeSummary(&th)); err != nil || got.Number != th.Number {
		t.Fatalf("the number: %+v, %v", got, err)
	}
}
