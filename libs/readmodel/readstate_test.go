package readmodel

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readstore"
)

// countModel is the straightforward model of read state: every message
// with its author, mentions and whether it is deleted, and each member's
// marker as the commands move it.
type countModel struct {
	msgs    []modelMessage // by sequence - 1
	markers map[string]uint64
	byID    map[string]int
}

type modelMessage struct {
	author   string
	mentions []string
	deleted  bool
}

// unread counts, by scanning, the live messages after account's marker and
// those of them that mention it.
func (m *countModel) unread(account string) (unread, mentions uint64) {
	for i := int(m.markers[account]); i < len(m.msgs); i++ {
		msg := m.msgs[i]
		if msg.deleted {
			continue
		}
		unread++
		if msg.author != account && slices.Contains(msg.mentions, account) {
			mentions++
		}
	}
	return unread, mentions
}

// TestUnreadCountsAgreeWithAModel: over random histories of posts (with
// mentions), deletes, reads and membership changes, as the domain accepts
// them, projected in random batches (some applied twice), every member's
// unread and mention counts are those of the model; and projecting the
// whole history again into a new store (a rebuild) gives the same.
func TestUnreadCountsAgreeWithAModel(t *testing.T) {
	open := func() *pebblestore.Store {
		s, err := pebblestore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	store := open()
	p, r := NewProjector(store), NewReader(store)
	rng := rand.New(rand.NewPCG(3, 4))
	accounts := []string{"alice", "bob", "carol", "dave", "erin"}
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	var all []domain.Event
	checked := 0
	for thread := 0; thread < 12; thread++ {
		id := ulid.Make().String()
		th := domain.NewThread(id)
		model := &countModel{markers: map[string]uint64{}, byID: map[string]int{}}
		var batch []domain.Event
		decide := func(actor string, cmd domain.Command) {
			now = now.Add(time.Second)
			e, _, err := th.Decide(cmd, domain.Meta{ActorID: actor, EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: now})
			if err != nil || e == nil {
				return // refused, or no change
			}
			wasMember := th.Members()
			if err := th.Apply(*e); err != nil {
				t.Fatal(err)
			}
			for _, a := range th.Members() {
				if !slices.Contains(wasMember, a) {
					model.markers[a] = uint64(len(model.msgs))
				}
			}
			switch pl := e.Payload.(type) {
			case domain.MessagePosted:
				model.byID[pl.MessageID] = len(model.msgs)
				model.msgs = append(model.msgs, modelMessage{author: actor, mentions: pl.MentionAccountIDs})
				model.markers[actor] = uint64(len(model.msgs))
			case domain.MessageDeleted:
				model.msgs[model.byID[pl.MessageID]].deleted = true
			case domain.ReadMarkerMoved:
				model.markers[actor] = max(model.markers[actor], uint64(model.byID[pl.MessageID]+1))
			}
			batch = append(batch, *e)
		}
		live := func() []string {
			var out []string
			for id, i := range model.byID {
				if !model.msgs[i].deleted {
					out = append(out, id)
				}
			}
			slices.Sort(out)
			return out
		}
		decide("alice", domain.CreateThread{Title: "t", MemberIDs: []string{"bob", "carol"}})
		for step := 0; step < 150; step++ {
			members := th.Members()
			actor := members[rng.IntN(len(members))]
			switch n := rng.IntN(10); {
			case n < 4:
				var mentions []string
				for _, a := range members {
					if rng.IntN(3) == 0 {
						mentions = append(mentions, a)
					}
				}
				decide(actor, domain.PostMessage{Body: "m", MentionAccountIDs: mentions})
			case n < 7:
				if ids := live(); len(ids) > 0 {
					decide(actor, domain.MarkRead{MessageID: ids[rng.IntN(len(ids))]})
				}
			case n < 8:
				if ids := live(); len(ids) > 0 {
					decide("alice", domain.DeleteMessage{MessageID: ids[rng.IntN(len(ids))]})
				}
			case n < 9:
				decide("alice", domain.AddMembers{AccountIDs: []string{accounts[rng.IntN(len(accounts))]}})
			default:
				if a := accounts[1+rng.IntN(len(accounts)-1)]; a != "alice" {
					decide("alice", domain.RemoveMembers{AccountIDs: []string{a}})
				}
			}
			if rng.IntN(6) == 0 || step == 149 {
				if _, err := p.Apply(ctx, batch); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(3) == 0 { // a batch replayed after a crash changes nothing
					if _, err := p.Apply(ctx, batch); err != nil {
						t.Fatal(err)
					}
				}
				all = append(all, batch...)
				batch = nil
				got, _, err := r.Thread(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range th.Members() {
					wantU, wantM := model.unread(a)
					u := got.UnreadBy(a)
					if u.Messages != wantU || u.Mentions != wantM {
						t.Fatalf("thread %d step %d: %s has %d unread, %d mentions; the model says %d, %d", thread, step, a, u.Messages, u.Mentions, wantU, wantM)
					}
					// The list reads the summary cells, not the whole row:
					// they must say the same.
					listed, err := r.AccountThreads(ctx, a, nil, 10)
					if err != nil {
						t.Fatal(err)
					}
					i := slices.IndexFunc(listed, func(l Listed) bool { return l.Summary.ID == id })
					if want := summaryOf(&got, a); i < 0 || !reflect.DeepEqual(listed[i].Summary, want) {
						t.Fatalf("thread %d step %d: %s's list has %+v; the thread row says %+v", thread, step, a, listed, want)
					}
					// The totals read fewer cells: the same sums.
					var sum Unread
					for _, l := range listed {
						sum.Messages += l.Summary.Unread.Messages
						sum.Mentions += l.Summary.Unread.Mentions
					}
					if total, err := r.AccountUnread(ctx, a, 10); err != nil || total != sum {
						t.Fatalf("thread %d step %d: %s's totals %+v (%v), its list sums %+v", thread, step, a, total, err, sum)
					}
					checked++
				}
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d counts checked", checked)
	}

	// A rebuild: the whole history again, in other batches, into a new store.
	rebuilt := open()
	rp, rr := NewProjector(rebuilt), NewReader(rebuilt)
	for len(all) > 0 {
		n := min(len(all), 1+rng.IntN(40))
		if _, err := rp.Apply(ctx, all[:n]); err != nil {
			t.Fatal(err)
		}
		all = all[n:]
	}
	listed, err := store.Scan(ctx, TableThreads, readstore.Scan{})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range listed {
		want := threadFromRow(row)
		got, _, err := rr.Thread(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range want.Members {
			if got.UnreadBy(a) != want.UnreadBy(a) {
				t.Fatalf("rebuilt thread %s: %s has %+v, before %+v", want.ID, a, got.UnreadBy(a), want.UnreadBy(a))
			}
		}
	}
}

// TestDeletesOfEventsWithoutSequences: events written before posts and
// deletes carried their sequence count the same, whether the delete comes
// in the post's batch (its row not written yet) or a later one.
func TestDeletesOfEventsWithoutSequences(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	th := domain.NewThread(ulid.Make().String())
	var events []domain.Event
	var posted []string
	do := func(actor string, cmd domain.Command) {
		now = now.Add(time.Second)
		e, r, err := th.Decide(cmd, domain.Meta{ActorID: actor, EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := th.Apply(*e); err != nil {
			t.Fatal(err)
		}
		switch p := e.Payload.(type) { // as written before sequences
		case domain.MessagePosted:
			p.Sequence = 0
			e.Payload = p
			posted = append(posted, r.MessageID)
		case domain.MessageDeleted:
			p.Sequence = 0
			e.Payload = p
		}
		events = append(events, *e)
	}
	do("alice", domain.CreateThread{Title: "t", MemberIDs: []string{"bob"}})
	for range 3 {
		do("alice", domain.PostMessage{Body: "m", MentionAccountIDs: []string{"bob"}})
	}
	do("alice", domain.DeleteMessage{MessageID: posted[1]})
	do("alice", domain.DeleteMessage{MessageID: posted[2]})
	for name, batches := range map[string][][]domain.Event{
		"one batch":     {events},
		"later batches": {events[:4], events[4:5], events[5:]},
	} {
		store, err := pebblestore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		p := NewProjector(store)
		for _, b := range batches {
			if _, err := p.Apply(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		got, _, err := NewReader(store).Thread(ctx, th.ID())
		store.Close()
		if err != nil {
			t.Fatal(err)
		}
		if u := got.UnreadBy("bob"); u.Messages != 1 || u.Mentions != 1 {
			t.Errorf("%s: bob has %d unread, %d mentions; want 1, 1", name, u.Messages, u.Mentions)
		}
	}
}
