package domain

import "testing"

// TestNumericIDs: a thread and each message get the numeric id the writer
// chose; replies, edits and deletes name the numeric ids of the messages
// they concern, which the legacy system needs; a retry answers the same
// number; the thread knows the greatest number its events carry.
func TestNumericIDs(t *testing.T) {
	f := standard(t)
	created := f.events[0].Payload.(ThreadCreated)
	if created.Number == 0 || f.thread.Number() != created.Number {
		t.Fatalf("thread number %d, state %d", created.Number, f.thread.Number())
	}
	first := f.must("bob", PostMessage{Body: "first"})
	posted := f.events[len(f.events)-1].Payload.(MessagePosted)
	if first.Number == 0 || first.Number != posted.Number {
		t.Fatalf("PostMessage answered number %d, its event has %d", first.Number, posted.Number)
	}
	reply := f.must("alice", PostMessage{Body: "reply", ReplyToMessageID: first.MessageID})
	if p := f.events[len(f.events)-1].Payload.(MessagePosted); p.ReplyToNumber != first.Number || p.Number != reply.Number {
		t.Errorf("the reply names %d (want %d) and has %d (want %d)", p.ReplyToNumber, first.Number, p.Number, reply.Number)
	}
	f.must("bob", EditMessage{MessageID: first.MessageID, Body: "edited"})
	if p := f.events[len(f.events)-1].Payload.(MessageEdited); p.Number != first.Number {
		t.Errorf("the edit names message number %d, want %d", p.Number, first.Number)
	}
	f.must("alice", DeleteMessage{MessageID: first.MessageID})
	if p := f.events[len(f.events)-1].Payload.(MessageDeleted); p.Number != first.Number {
		t.Errorf("the delete names message number %d, want %d", p.Number, first.Number)
	}
	if f.thread.LastNumber() != reply.Number {
		t.Errorf("last number %d, want %d", f.thread.LastNumber(), reply.Number)
	}
	// A retry of the post answers the number it got the first time.
	m := f.meta("bob")
	r1, err := f.doMeta(PostMessage{Body: "once"}, m)
	if err != nil {
		t.Fatal(err)
	}
	m.NewNumber++
	r2, err := f.doMeta(PostMessage{Body: "once"}, m)
	if err != nil || r2.Number != r1.Number || !r2.Replayed {
		t.Errorf("retry answered %+v %v, want number %d again", r2, err, r1.Number)
	}
	// Folded from its events, the thread has the same numbers.
	folded := NewThread(f.thread.ID())
	for _, e := range f.events {
		if err := folded.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if folded.Number() != f.thread.Number() || folded.LastNumber() != f.thread.LastNumber() {
		t.Errorf("folded numbers %d/%d, want %d/%d", folded.Number(), folded.LastNumber(), f.thread.Number(), f.thread.LastNumber())
	}
}
