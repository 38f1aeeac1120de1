package readmodel

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/readstore"
)

const (
	testThreadID  = "01JCZ8Q8N3W6Y0A1B2C3D4E5F6"
	testMessageID = "01JCZ8Q9AAAAAAAAAAAAAAAAAA"
)

func TestMessageCells(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	edited := at.Add(time.Minute)
	full := Message{
		SenderID: "alice", Body: "héllo\x00 — \n" + strings.Repeat("x", 300),
		ReplyToMessageID: "01JCZ8Q9BBBBBBBBBBBBBBBBBB", MentionAccountIDs: []string{"bob", "carol"},
		CreatedAt: at, Version: 12, Sequence: 7, Number: 1 << 60, ReplyToNumber: 42,
	}
	for _, c := range []struct {
		name string
		post Message
		edit *Message // body, edited at and version of an edit, if any
		want Message
	}{
		{name: "every field", post: full, want: full},
		{name: "only what a post always has", post: Message{SenderID: "a", Body: "b", CreatedAt: at, Version: 1, Sequence: 1},
			want: Message{SenderID: "a", Body: "b", CreatedAt: at, Version: 1, Sequence: 1}},
		{name: "edited", post: full, edit: &Message{Body: "fixed", EditedAt: edited, Version: 19},
			want: func() Message { m := full; m.Body, m.EditedAt, m.Version = "fixed", edited, 19; return m }()},
		{name: "edited to empty", post: full, edit: &Message{Body: "", EditedAt: edited, Version: 20},
			want: func() Message { m := full; m.Body, m.EditedAt, m.Version = "", edited, 20; return m }()},
	} {
		t.Run(c.name, func(t *testing.T) {
			cells := map[string][]byte{colPost: encodePost(&c.post)}
			if c.edit != nil {
				cells[colEdit] = encodeEdit(c.edit.Body, c.edit.EditedAt, c.edit.Version)
			}
			row := rowOf(messageKey(testThreadID, testMessageID), cells)
			got, err := messageFromRow(row)
			if err != nil {
				t.Fatal(err)
			}
			c.want.ThreadID, c.want.ID = testThreadID, testMessageID
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// Rows projected before the message cells have a column per field; they
// read as before, and an edit made since (a colEdit cell) shows over them.
func TestLegacyMessageRows(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	legacy := map[string][]byte{
		colSender: []byte("alice"), colBody: []byte("old"), colReplyTo: []byte("R"),
		colMentions: encList([]string{"bob", "carol"}), colCreated: encTime(at),
		colVersion: encUint(5), colSequence: encUint(3), colNumber: encUint(77), colReplyToNumber: encUint(66),
	}
	want := Message{
		ID: testMessageID, ThreadID: testThreadID, SenderID: "alice", Body: "old", ReplyToMessageID: "R",
		MentionAccountIDs: []string{"bob", "carol"}, CreatedAt: at, Version: 5, Sequence: 3, Number: 77, ReplyToNumber: 66,
	}
	got, err := messageFromRow(rowOf(messageKey(testThreadID, testMessageID), legacy))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("legacy row: got %+v, %v\nwant %+v", got, err, want)
	}

	legacy[colEdit] = encodeEdit("new", at.Add(time.Hour), 9)
	want.Body, want.EditedAt, want.Version = "new", at.Add(time.Hour), 9
	got, err = messageFromRow(rowOf(messageKey(testThreadID, testMessageID), legacy))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("legacy row edited since: got %+v, %v\nwant %+v", got, err, want)
	}
}

func TestCorruptMessageCells(t *testing.T) {
	good := encodePost(&Message{SenderID: "alice", Body: "hi", MentionAccountIDs: []string{"bob"}, Version: 3, Sequence: 2})
	edit := encodeEdit("x", time.Unix(1, 0), 4)
	for _, c := range []struct {
		name  string
		cells map[string][]byte
	}{
		{"empty post", map[string][]byte{colPost: {}}},
		{"unknown format", map[string][]byte{colPost: append([]byte{9}, good[1:]...)}},
		{"truncated post", map[string][]byte{colPost: good[:len(good)-2]}},
		{"trailing bytes", map[string][]byte{colPost: append(append([]byte{}, good...), 0)}},
		{"a mention count past the cell", map[string][]byte{colPost: {messageCellFormat, 0, 0, 0, 0xff, 0xff, 0x03}}},
		{"a string past the cell", map[string][]byte{colPost: {messageCellFormat, 0x7f, 'a'}}},
		{"truncated edit", map[string][]byte{colPost: good, colEdit: edit[:len(edit)-1]}},
		{"edit of unknown format", map[string][]byte{colPost: good, colEdit: append([]byte{0}, edit[1:]...)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := messageFromRow(rowOf([]byte("K"), c.cells))
			if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), `"K"`) {
				t.Errorf("err = %v, want one naming the row and saying the cell is corrupt", err)
			}
		})
	}
}

func FuzzMessageCells(f *testing.F) {
	f.Add(encodePost(&Message{SenderID: "a", Body: "b", MentionAccountIDs: []string{"c"}, Version: 1}), encodeEdit("e", time.Unix(5, 0), 2))
	f.Add([]byte{messageCellFormat}, []byte{})
	f.Fuzz(func(t *testing.T, post, edit []byte) {
		if _, err := messageFromRow(rowOf([]byte("K"), map[string][]byte{colPost: post, colEdit: edit})); err != nil {
			return
		}
		// What decodes, encoded again, decodes to the same message.
		var d, again Message
		if !decodePost(&d, post) || !decodePost(&again, encodePost(&d)) || !reflect.DeepEqual(again, d) {
			t.Errorf("post cell %x decodes to %+v, which encodes to %x", post, d, encodePost(&d))
		}
	})
}

// rowOf is the row a store reads back with these cells.
func rowOf(key []byte, cells map[string][]byte) readstore.Row {
	r := readstore.Row{Key: key}
	for c, v := range cells {
		r.Cells = append(r.Cells, readstore.Cell{Column: c, Value: v})
	}
	readstore.SortCells(r.Cells)
	return r
}
