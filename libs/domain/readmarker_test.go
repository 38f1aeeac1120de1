package domain

import (
	"errors"
	"testing"
)

// readFixture: alice administers, bob and carol are members; alice posted
// m1, bob m2, alice m3 (positions 1, 2, 3); dave is not a member.
func readFixture(t *testing.T) (*fixture, []string) {
	f := newFixture(t)
	f.must("alice", CreateThread{Title: "Launch", MemberIDs: []string{"bob", "carol"}})
	var ids []string
	for _, a := range []string{"alice", "bob", "alice"} {
		ids = append(ids, f.must(a, PostMessage{Body: "hi"}).MessageID)
	}
	return f, ids
}

func TestMarkRead(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *fixture, ids []string)
		actor string
		msg   int // index into the posted messages; -1: an unknown id
		want  Kind
		field string
		// moved: the event moves the marker to this position; 0: no event.
		moved uint64
	}{
		{name: "forward to the newest", actor: "carol", msg: 2, moved: 3},
		{name: "forward to an older one first", actor: "carol", msg: 0, moved: 1},
		{name: "behind the marker changes nothing", setup: func(f *fixture, ids []string) { f.must("carol", MarkRead{MessageID: ids[2]}) }, actor: "carol", msg: 0},
		{name: "the marker itself changes nothing", setup: func(f *fixture, ids []string) { f.must("carol", MarkRead{MessageID: ids[1]}) }, actor: "carol", msg: 1},
		{name: "own post is read", actor: "bob", msg: 1},
		{name: "own post reads what came before", actor: "bob", msg: 0},
		{name: "after own post, a newer one moves", actor: "bob", msg: 2, moved: 3},
		{name: "unknown message", actor: "carol", msg: -1, want: NotFound, field: "message_id"},
		{name: "deleted message", setup: func(f *fixture, ids []string) { f.must("alice", DeleteMessage{MessageID: ids[2]}) }, actor: "carol", msg: 2, want: NotFound, field: "message_id"},
		{name: "message of another thread", actor: "carol", msg: -2, want: NotFound, field: "message_id"},
		{name: "malformed message id", actor: "carol", msg: -3, want: Invalid, field: "message_id"},
		// A thread a non-member cannot see answers as one that does not exist.
		{name: "non-member", actor: "dave", msg: 2, want: NotFound, field: "thread_id"},
		{name: "removed member", setup: func(f *fixture, _ []string) { f.must("alice", RemoveMembers{AccountIDs: []string{"carol"}}) }, actor: "carol", msg: 2, want: NotFound, field: "thread_id"},
		{name: "destroyed thread", setup: func(f *fixture, _ []string) { f.must("alice", DestroyThread{}) }, actor: "carol", msg: 2, want: Conflict},
		// Joining starts at the last message: what came before is read.
		{name: "joined after the messages", setup: func(f *fixture, _ []string) { f.must("alice", AddMembers{AccountIDs: []string{"dave"}}) }, actor: "dave", msg: 2},
		{name: "rejoined after leaving", setup: func(f *fixture, _ []string) {
			f.must("carol", RemoveMembers{AccountIDs: []string{"carol"}})
			f.must("alice", AddMembers{AccountIDs: []string{"carol"}})
		}, actor: "carol", msg: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, ids := readFixture(t)
			if c.setup != nil {
				c.setup(f, ids)
			}
			msg := ""
			switch c.msg {
			case -1:
				msg = id(9999)
			case -2:
				other := &fixture{t: t, thread: NewThread(id(7777)), seq: 500} // other ids
				other.must("alice", CreateThread{Title: "Other", MemberIDs: []string{"carol"}})
				msg = other.must("alice", PostMessage{Body: "elsewhere"}).MessageID
			case -3:
				msg = "not-a-ulid"
			default:
				msg = ids[c.msg]
			}
			before := len(f.events)
			_, err := f.do(c.actor, MarkRead{MessageID: msg})
			if c.want != 0 {
				var de *Error
				if !errors.As(err, &de) || de.Kind != c.want || de.Field != c.field {
					t.Fatalf("got %v, want kind %v field %q", err, c.want, c.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			added := f.events[before:]
			switch {
			case c.moved == 0 && len(added) != 0:
				t.Fatalf("want no event, got %+v", added)
			case c.moved != 0 && (len(added) != 1 || added[0].Payload != ReadMarkerMoved{MessageID: msg, Position: c.moved}):
				t.Fatalf("want the marker moved to %d, got %+v", c.moved, added)
			}
			if got, _ := f.thread.ReadMarker(c.actor); c.moved != 0 && got != c.moved {
				t.Fatalf("marker at %d after the event, want %d", got, c.moved)
			}
		})
	}
}

func TestSequencesAndMarkersFold(t *testing.T) {
	f, ids := readFixture(t)
	f.must("alice", DeleteMessage{MessageID: ids[1]})
	if d := f.events[len(f.events)-1].Payload.(MessageDeleted); d.Sequence != 2 {
		t.Fatalf("the deleted message's sequence is %d in its event, want 2", d.Sequence)
	}
	f.must("carol", MarkRead{MessageID: ids[2]})
	r := f.must("bob", PostMessage{Body: "after a delete"})
	posted := f.events[len(f.events)-1].Payload.(MessagePosted)
	if posted.Sequence != 4 || posted.MessageID != r.MessageID {
		t.Fatalf("the message after a deleted one is at %d, want 4 (positions are not reused)", posted.Sequence)
	}
	f.must("alice", AddMembers{AccountIDs: []string{"dave"}})
	checkMarkers(t, "deciding", f.thread)
	// Events written before sequences were recorded fold to the same
	// positions.
	old := NewThread(f.thread.ID())
	for _, e := range f.events {
		if p, ok := e.Payload.(MessagePosted); ok {
			p.Sequence = 0
			e.Payload = p
		}
		if err := old.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	checkMarkers(t, "folded without sequences", old)
	// A snapshot keeps them.
	restored, err := Restore(f.thread.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	checkMarkers(t, "restored", restored)
	if _, _, err := restored.Decide(MarkRead{MessageID: ids[2]}, f.meta("dave")); err != nil {
		t.Errorf("a restored thread does not know its messages' positions: %v", err)
	}
}

// checkMarkers checks the state TestSequencesAndMarkersFold builds.
func checkMarkers(t *testing.T, how string, th *Thread) {
	t.Helper()
	if th.LastSequence() != 4 {
		t.Errorf("%s: last sequence %d, want 4", how, th.LastSequence())
	}
	for a, p := range map[string]uint64{"alice": 3, "bob": 4, "carol": 3, "dave": 4} {
		if got, ok := th.ReadMarker(a); !ok || got != p {
			t.Errorf("%s: marker of %s at %d (member %v), want %d", how, a, got, ok, p)
		}
	}
}
