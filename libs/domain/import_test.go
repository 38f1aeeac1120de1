package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var importStart = time.Date(2019, 4, 1, 9, 0, 0, 0, time.UTC)

func importMeta() ImportMeta {
	n := 0
	return ImportMeta{ActorID: "migration", NewEventID: func() string {
		n++
		return legacyULID('E', uint64(n))
	}}
}

func legacyRoom(n uint64) *ImportedRoom {
	return &ImportedRoom{Name: fmt.Sprintf("room %d", n), CreatedAt: importStart, UpdatedAt: importStart}
}

func legacyMessage(n uint64, author string, body string) ImportedMessage {
	at := importStart.Add(time.Duration(n) * time.Minute)
	return ImportedMessage{Number: n, AuthorID: author, Body: body, CreatedAt: at, UpdatedAt: at}
}

func members(ids ...string) []ImportedMember {
	out := make([]ImportedMember, len(ids))
	for i, id := range ids {
		out[i] = ImportedMember{AccountID: id, Admin: i == 0, At: importStart}
	}
	return out
}

// mustImport imports into th and fails the test on an error.
func mustImport(t *testing.T, th *Thread, imp Import) ([]Event, ImportResult) {
	t.Helper()
	imp.RoomID = 7
	events, res, err := th.Import(imp, importMeta())
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, e := range events {
		if !e.Imported {
			t.Errorf("event %d (%s) is not marked imported", e.Version, e.Payload.EventType())
		}
	}
	return events, res
}

func types(events []Event) string {
	var out []string
	for _, e := range events {
		out = append(out, e.Payload.EventType())
	}
	return strings.Join(out, ",")
}

func TestImportCreatesTheRoomWithItsHistory(t *testing.T) {
	th := NewThread(LegacyThreadID(7))
	edited := legacyMessage(11, "101", "fixed typo")
	edited.UpdatedAt = edited.CreatedAt.Add(time.Hour)
	deleted := legacyMessage(12, "102", "oops")
	deleted.Deleted = true
	reply := legacyMessage(13, "102", "answer")
	reply.ReplyTo = 10
	imp := Import{Room: legacyRoom(7), Members: members("101", "102"),
		Messages: []ImportedMessage{legacyMessage(10, "101", "hello"), edited, deleted, reply}}
	events, res := mustImport(t, th, imp)

	if got, want := types(events), "ThreadCreated,MessagePosted,MessagePosted,MessageEdited,MessagePosted,MessageDeleted,MessagePosted"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if !res.Created || res.Posted != 4 || res.Edited != 1 || res.Deleted != 1 || res.Version != 7 || res.Events != 7 {
		t.Errorf("result %+v", res)
	}
	if th.Number() != 7 || !th.IsAdministrator("101") || !th.IsMember("102") || th.IsAdministrator("102") {
		t.Errorf("thread number %d, members %v, administrators %v", th.Number(), th.Members(), th.Administrators())
	}
	created := events[0]
	if !created.OccurredAt.Equal(importStart) || created.ActorID != "101" || created.ThreadNumber != 7 {
		t.Errorf("ThreadCreated at %v by %s, thread number %d", created.OccurredAt, created.ActorID, created.ThreadNumber)
	}
	post := events[1].Payload.(MessagePosted)
	if post.MessageID != LegacyMessageID(10) || post.Number != 10 || events[1].ActorID != "101" || !events[1].OccurredAt.Equal(legacyMessage(10, "", "").CreatedAt) {
		t.Errorf("first post %+v by %s at %v", post, events[1].ActorID, events[1].OccurredAt)
	}
	if e := events[3]; !e.OccurredAt.Equal(edited.UpdatedAt) {
		t.Errorf("edit at %v, want the row's updated_at %v", e.OccurredAt, edited.UpdatedAt)
	}
	r := events[6].Payload.(MessagePosted)
	if r.ReplyToMessageID != LegacyMessageID(10) || r.ReplyToNumber != 10 {
		t.Errorf("reply links %s (%d), want message 10", r.ReplyToMessageID, r.ReplyToNumber)
	}
	if _, ok := th.MessageAuthor(LegacyMessageID(12)); ok {
		t.Error("the deleted message is live")
	}
}

func TestImportAgainChangesNothing(t *testing.T) {
	del := legacyMessage(12, "102", "gone")
	del.Deleted = true
	imp := Import{Room: legacyRoom(7), Members: members("101", "102"),
		Messages: []ImportedMessage{legacyMessage(10, "101", "a"), legacyMessage(11, "102", "b"), del}}
	th := NewThread(LegacyThreadID(7))
	mustImport(t, th, imp)
	// Sent again, and again after a snapshot: a restarted bulk run, or the
	// binlog replaying what the bulk run read.
	for _, th := range []*Thread{th, restored(t, th)} {
		events, res := mustImport(t, th, imp)
		if len(events) != 0 {
			t.Fatalf("the same rows again appended %s", types(events))
		}
		if res.Duplicates != 1+2+3 {
			t.Errorf("duplicates %d, want 6 (room, two members, three messages): %+v", res.Duplicates, res)
		}
	}
}

func restored(t *testing.T, th *Thread) *Thread {
	t.Helper()
	r, err := Restore(th.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestImportConvergesOnChangedRows(t *testing.T) {
	th := NewThread(LegacyThreadID(7))
	mustImport(t, th, Import{Room: legacyRoom(7), Members: members("101", "102", "103"),
		Messages: []ImportedMessage{legacyMessage(10, "101", "a"), legacyMessage(11, "102", "b")}})

	renamed := legacyRoom(7)
	renamed.Name = "renamed"
	edit := legacyMessage(10, "101", "a, edited")
	edit.BodyChanged = true
	del := legacyMessage(11, "102", "b")
	del.Deleted = true
	late := legacyMessage(9, "103", "committed late") // a lower id committed after 10 and 11
	tests := []struct {
		name string
		imp  Import
		want string
	}{
		{"room renamed", Import{Room: renamed}, "ThreadUpdated"},
		{"body changed", Import{Messages: []ImportedMessage{edit}}, "MessageEdited"},
		{"message deleted", Import{Messages: []ImportedMessage{del}}, "MessageDeleted"},
		{"deleted again", Import{Messages: []ImportedMessage{del}}, ""},
		{"insert out of id order", Import{Messages: []ImportedMessage{late}}, "MessagePosted"},
		{"member promoted", Import{Members: []ImportedMember{{AccountID: "102", Admin: true}}}, "AdministratorsAdded"},
		{"admin demoted", Import{Members: []ImportedMember{{AccountID: "101"}}}, "AdministratorsRemoved"},
		{"member removed", Import{Members: []ImportedMember{{AccountID: "103", Removed: true}}}, "MembersRemoved"},
		{"removed again", Import{Members: []ImportedMember{{AccountID: "103", Removed: true}}}, ""},
		{"new member", Import{Members: []ImportedMember{{AccountID: "104"}}}, "MembersAdded"},
		{"room deleted", Import{Room: func() *ImportedRoom { r := *renamed; r.Deleted = true; return &r }()}, "ThreadDestroyed"},
		{"rows of a deleted room", Import{Messages: []ImportedMessage{legacyMessage(20, "101", "late")}}, ""},
	}
	for _, tc := range tests {
		events, _ := mustImport(t, th, tc.imp)
		if got := types(events); got != tc.want {
			t.Errorf("%s: events %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestImportDecidesBadRows(t *testing.T) {
	long := strings.Repeat("x", MaxBodyRunes+50)
	missing := legacyMessage(11, "101", "reply to nothing")
	missing.ReplyTo = 999
	tests := []struct {
		name    string
		room    ImportedRoom
		members []ImportedMember
		msg     ImportedMessage
		check   func(t *testing.T, th *Thread, events []Event, res ImportResult)
	}{
		{name: "body not UTF-8", msg: legacyMessage(10, "101", "broken \xff\xfe bytes"),
			check: func(t *testing.T, _ *Thread, events []Event, res ImportResult) {
				if body := events[1].Payload.(MessagePosted).Body; body != "broken \uFFFD bytes" || res.Transformed != 1 {
					t.Errorf("body %q, transformed %d", body, res.Transformed)
				}
			}},
		{name: "control characters", msg: legacyMessage(10, "101", "bell\x07 null\x00 crlf\r\n"),
			check: func(t *testing.T, _ *Thread, events []Event, res ImportResult) {
				if body := events[1].Payload.(MessagePosted).Body; body != "bell\uFFFD null\uFFFD crlf\n" || validateBody(body) != nil {
					t.Errorf("body %q (%v)", body, validateBody(body))
				}
			}},
		{name: "body over the limit is kept whole", msg: legacyMessage(10, "101", long),
			check: func(t *testing.T, _ *Thread, events []Event, res ImportResult) {
				if body := events[1].Payload.(MessagePosted).Body; body != long || res.Transformed != 0 {
					t.Errorf("body of %d characters, transformed %d", len(body), res.Transformed)
				}
			}},
		{name: "empty room name", room: ImportedRoom{Name: " "}, msg: legacyMessage(10, "101", "a"),
			check: func(t *testing.T, th *Thread, _ []Event, res ImportResult) {
				if th.Title() != "Room 7" || res.Transformed != 1 {
					t.Errorf("title %q, transformed %d", th.Title(), res.Transformed)
				}
			}},
		{name: "author who left", msg: legacyMessage(10, "999", "still mine"),
			check: func(t *testing.T, th *Thread, events []Event, _ ImportResult) {
				if events[1].ActorID != "999" || th.IsMember("999") {
					t.Errorf("posted by %s; member: %v", events[1].ActorID, th.IsMember("999"))
				}
				if _, ok := th.ReadMarker("999"); ok {
					t.Error("a read marker for a non-member")
				}
			}},
		{name: "reply to a missing message", msg: missing,
			check: func(t *testing.T, _ *Thread, events []Event, res ImportResult) {
				if p := events[1].Payload.(MessagePosted); p.ReplyToMessageID != "" || res.RepliesDropped != 1 {
					t.Errorf("reply link %q, dropped %d", p.ReplyToMessageID, res.RepliesDropped)
				}
			}},
		{name: "room without an administrator", members: []ImportedMember{{AccountID: "101"}, {AccountID: "102"}}, msg: legacyMessage(10, "101", "a"),
			check: func(t *testing.T, th *Thread, events []Event, _ ImportResult) {
				if len(th.Administrators()) != 0 || events[0].ActorID != "101" {
					t.Errorf("administrators %v, created by %s", th.Administrators(), events[0].ActorID)
				}
			}},
		{name: "deleted room", room: ImportedRoom{Deleted: true}, msg: legacyMessage(10, "101", "a"),
			check: func(t *testing.T, th *Thread, events []Event, res ImportResult) {
				if th.Exists() || len(events) != 0 || res.Skipped != 1+2+1 {
					t.Errorf("exists %v, events %s, skipped %d", th.Exists(), types(events), res.Skipped)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			room := legacyRoom(7)
			if tc.room.Name != "" {
				room.Name = tc.room.Name
			}
			room.Deleted = tc.room.Deleted
			ms := tc.members
			if ms == nil {
				ms = members("101", "102")
			}
			th := NewThread(LegacyThreadID(7))
			events, res := mustImport(t, th, Import{Room: room, Members: ms, Messages: []ImportedMessage{tc.msg}})
			tc.check(t, th, events, res)
		})
	}
}

func TestImportRefusesInvalidRowsWhole(t *testing.T) {
	tests := []struct {
		name  string
		imp   Import
		field string
	}{
		{"room id zero", Import{Room: &ImportedRoom{Name: "x"}}, "room_id"},
		{"room of another thread", Import{RoomID: 8, Room: legacyRoom(8)}, "room_id"},
		{"message id in Falcon's space", Import{RoomID: 7, Room: legacyRoom(7), Messages: []ImportedMessage{legacyMessage(1<<62, "101", "x")}}, "messages.message_id"},
		{"bad author", Import{RoomID: 7, Room: legacyRoom(7), Messages: []ImportedMessage{legacyMessage(10, "not valid!", "x")}}, "messages.account_id"},
		{"bad member", Import{RoomID: 7, Room: legacyRoom(7), Members: []ImportedMember{{AccountID: ""}}}, "members.account_id"},
		{"nothing", Import{RoomID: 7}, "room"},
	}
	for _, tc := range tests {
		th := NewThread(LegacyThreadID(7))
		events, _, err := th.Import(tc.imp, importMeta())
		var de *Error
		if err == nil || !errors.As(err, &de) || de.Field != tc.field {
			t.Errorf("%s: error %v, want one on field %s", tc.name, err, tc.field)
		}
		if len(events) != 0 || th.Version() != 0 {
			t.Errorf("%s: refused import changed the thread to version %d", tc.name, th.Version())
		}
	}
}

func TestLegacyIDsAreStableULIDs(t *testing.T) {
	for _, id := range []string{LegacyThreadID(1), LegacyThreadID(MaxLegacyNumber), LegacyMessageID(42)} {
		if err := ValidateULID("id", id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if LegacyThreadID(42) == LegacyMessageID(42) || LegacyMessageID(42) != "00000000009H6G00000000001A" {
		t.Errorf("legacy ids are not distinct per kind, or not stable: %s", LegacyMessageID(42))
	}
	if LegacyMessageID(9) >= LegacyMessageID(10) || LegacyMessageID(255) >= LegacyMessageID(256) {
		t.Error("message ids do not sort as their legacy ids")
	}
}

func TestImportOfMessagesTheIndexForgot(t *testing.T) {
	th := NewThread(LegacyThreadID(7))
	var msgs []ImportedMessage
	for n := uint64(1); n <= MaxIndexedMessages+1; n++ {
		msgs = append(msgs, legacyMessage(n, "101", "m"))
	}
	mustImport(t, th, Import{Room: legacyRoom(7), Members: members("101"), Messages: msgs})

	old := legacyMessage(1, "101", "m")
	deleted, edited := old, old
	deleted.Deleted = true
	edited.BodyChanged, edited.Body = true, "changed"
	tests := []struct {
		name string
		msg  ImportedMessage
		want string
		res  func(ImportResult) int
	}{
		{"sent again", old, "", func(r ImportResult) int { return r.Duplicates }},
		{"edited", edited, "", func(r ImportResult) int { return r.TooOld }},
		// The read model deletes it if it has it (Sequence 0: looked up).
		{"deleted", deleted, "MessageDeleted", func(r ImportResult) int { return r.Deleted }},
	}
	for _, tc := range tests {
		events, res := mustImport(t, th, Import{Messages: []ImportedMessage{tc.msg}})
		if got := types(events); got != tc.want || tc.res(res) != 1 {
			t.Errorf("%s: events %q, result %+v; want %q", tc.name, got, res, tc.want)
		}
		if len(events) == 1 && events[0].Payload.(MessageDeleted).Sequence != 0 {
			t.Errorf("%s: a deletion the thread cannot place carries sequence %d", tc.name, events[0].Payload.(MessageDeleted).Sequence)
		}
	}
}
