package domain

import (
	"reflect"
	"testing"
)

func TestSnapshotRestoresTheSameThread(t *testing.T) {
	f := standard(t)
	f.must("alice", AddMembers{AccountIDs: []string{"carol"}})
	var last Result
	for i := 0; i < RecentRequests+20; i++ {
		last = f.must("bob", PostMessage{Body: "m"})
	}
	f.must("bob", DeleteMessage{MessageID: last.MessageID})
	restored, err := Restore(f.thread.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	// Compare what the thread decides, not its internals: the ring may
	// start elsewhere.
	if !reflect.DeepEqual(restored.Snapshot(), f.thread.Snapshot()) {
		t.Fatal("restore(snapshot) snapshots differently")
	}
	for _, cmd := range []struct {
		actor string
		cmd   Command
	}{
		{"bob", PostMessage{Body: "after"}},
		{"carol", EditMessage{MessageID: last.MessageID, Body: "x"}},
		{"alice", RemoveMembers{AccountIDs: []string{"carol"}}},
	} {
		m := f.meta(cmd.actor)
		e1, r1, err1 := f.thread.Decide(cmd.cmd, m)
		e2, r2, err2 := restored.Decide(cmd.cmd, m)
		if !reflect.DeepEqual(e1, e2) || r1 != r2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("%s decided differently after restore: %v %v %v / %v %v %v", cmd.cmd.Name(), e1, r1, err1, e2, r2, err2)
		}
	}
	if _, err := Restore(Snapshot{}); err == nil {
		t.Fatal("a snapshot without id was restored")
	}
	bad := f.thread.Snapshot()
	bad.Requests[0].Version = bad.Version + 1
	if _, err := Restore(bad); err == nil {
		t.Fatal("a snapshot remembering a future version was restored")
	}
}

func TestMessageIndexIsBounded(t *testing.T) {
	th := NewThread(id(1))
	_ = th.Apply(Event{ID: id(2), ThreadID: id(1), Version: 1, ActorID: "alice", Payload: ThreadCreated{Title: "t", MemberIDs: []string{"alice"}, AdministratorIDs: []string{"alice"}}})
	first := id(100)
	for i := 0; i < MaxIndexedMessages+5; i++ {
		mid := id(uint64(100 + i))
		if err := th.Apply(Event{ID: id(uint64(900000 + i)), ThreadID: id(1), Version: uint64(i + 2), ActorID: "alice", Payload: MessagePosted{MessageID: mid, Body: "b"}}); err != nil {
			t.Fatal(err)
		}
	}
	if th.IndexedMessages() != MaxIndexedMessages || len(th.messages.order) > 2*MaxIndexedMessages {
		t.Fatalf("index holds %d messages (order %d), want %d", th.IndexedMessages(), len(th.messages.order), MaxIndexedMessages)
	}
	_, _, err := th.Decide(EditMessage{MessageID: first, Body: "x"}, Meta{ActorID: "alice", Now: t0})
	if KindOf(err) != NotFound {
		t.Fatalf("editing a message beyond the index: %v, want not found", err)
	}
	if _, _, err := th.Decide(EditMessage{MessageID: id(uint64(100 + MaxIndexedMessages + 4)), Body: "x"}, Meta{ActorID: "alice", Now: t0}); err != nil {
		t.Fatalf("editing the newest message: %v", err)
	}
}

// A log that repeats a message id (the same MessagePosted twice) must not
// grow the index's order: each id is kept once, in snapshots too.
func TestMessageIndexKeepsEachIDOnce(t *testing.T) {
	th := NewThread(id(1))
	_ = th.Apply(Event{ID: id(2), ThreadID: id(1), Version: 1, ActorID: "alice", Payload: ThreadCreated{Title: "t", MemberIDs: []string{"alice"}, AdministratorIDs: []string{"alice"}}})
	for i := 0; i < 3*MaxIndexedMessages; i++ {
		mid := id(uint64(100 + i%3))
		if err := th.Apply(Event{ID: id(uint64(900000 + i)), ThreadID: id(1), Version: uint64(i + 2), ActorID: "alice", Payload: MessagePosted{MessageID: mid, Body: "b"}}); err != nil {
			t.Fatal(err)
		}
	}
	if th.IndexedMessages() != 3 || len(th.messages.order) != 3 || len(th.Snapshot().Messages) != 3 {
		t.Fatalf("index holds %d messages, order %d, snapshot %d; want 3 each", th.IndexedMessages(), len(th.messages.order), len(th.Snapshot().Messages))
	}
}
