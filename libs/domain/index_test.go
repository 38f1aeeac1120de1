package domain

import (
	"reflect"
	"strings"
	"testing"
)

func TestMessageIndexFindsWhatWasPut(t *testing.T) {
	x := newMessageIndex()
	a, b := id(1), id(2)
	x.put(a, messageRef{author: "alice", seq: 1, number: 11})
	x.put(b, messageRef{author: "bob", seq: 2, number: 12})
	x.put("not-a-ulid", messageRef{author: "carol", seq: 3})
	x.markDeleted(b)
	for _, c := range []struct {
		name, id string
		want     messageRef
		found    bool
	}{
		{"first", a, messageRef{author: "alice", seq: 1, number: 11}, true},
		{"deleted stays as a tombstone", b, messageRef{author: "bob", seq: 2, number: 12, deleted: true}, true},
		{"lower case is another id", strings.ToLower(a), messageRef{}, false},
		{"not a ULID is never indexed", "not-a-ulid", messageRef{}, false},
		{"never put", id(3), messageRef{}, false},
	} {
		got, found := x.get(c.id)
		if got != c.want || found != c.found {
			t.Errorf("%s: get(%s) = %+v, %v; want %+v, %v", c.name, c.id, got, found, c.want, c.found)
		}
	}
	want := []MessageRef{{ID: a, AuthorID: "alice", Sequence: 1, Number: 11}, {ID: b, AuthorID: "bob", Sequence: 2, Number: 12, Deleted: true}}
	if got := x.snapshot(); !reflect.DeepEqual(got, want) || x.len() != 2 || len(x.authors) != 2 {
		t.Fatalf("snapshot gave %+v (len %d, authors %v); want %+v", got, x.len(), x.authors, want)
	}
}

func TestRestoreRefusesAMessageIDThatIsNotAULID(t *testing.T) {
	f := standard(t)
	f.must("bob", PostMessage{Body: "m"})
	s := f.thread.Snapshot()
	s.Messages[0].ID = "m1"
	if _, err := Restore(s); err == nil {
		t.Fatal("a snapshot with message id m1 was restored")
	}
}
