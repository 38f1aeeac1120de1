package domain

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// fixture builds thread state by deciding and applying commands, the way
// write-api does, and records the events.
type fixture struct {
	t      *testing.T
	thread *Thread
	events []Event
	seq    uint64
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, thread: NewThread(id(0))}
}

// id returns a deterministic ULID.
func id(n uint64) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(t0))
	e := u.Entropy()
	for i := 0; i < 8; i++ {
		e[9-i] = byte(n >> (8 * i))
	}
	_ = u.SetEntropy(e)
	return u.String()
}

func (f *fixture) meta(actor string) Meta {
	f.seq++
	return Meta{ActorID: actor, RequestID: id(1000 + f.seq), EventID: id(2000 + f.seq), NewMessageID: id(3000 + f.seq),
		NewNumber: 1<<62 + f.seq, Now: t0.Add(time.Duration(f.seq) * time.Second)}
}

func (f *fixture) do(actor string, cmd Command) (Result, error) {
	return f.doMeta(cmd, f.meta(actor))
}

func (f *fixture) doMeta(cmd Command, m Meta) (Result, error) {
	e, r, err := f.thread.Decide(cmd, m)
	if err != nil {
		return r, err
	}
	if e != nil {
		if err := f.thread.Apply(*e); err != nil {
			f.t.Fatalf("apply %T: %v", e.Payload, err)
		}
		f.events = append(f.events, *e)
	}
	return r, nil
}

func (f *fixture) must(actor string, cmd Command) Result {
	f.t.Helper()
	r, err := f.do(actor, cmd)
	if err != nil {
		f.t.Fatalf("%s by %s: %v", cmd.Name(), actor, err)
	}
	return r
}

// standard: alice administers, bob is a member, carol is not.
func standard(t *testing.T) *fixture {
	f := newFixture(t)
	f.must("alice", CreateThread{Title: "Launch", MemberIDs: []string{"bob"}})
	return f
}

func str(s string) *string { return &s }

func TestCommands(t *testing.T) {
	long := func(n int) string { return strings.Repeat("あ", n) }
	cases := []struct {
		name  string
		setup func(f *fixture)
		actor string
		cmd   Command
		want  Kind // 0: accepted
		field string
	}{
		{name: "create", actor: "alice", cmd: CreateThread{Title: "t"}},
		{name: "create with members and admins", actor: "alice", cmd: CreateThread{Title: "t", MemberIDs: []string{"bob"}, AdministratorIDs: []string{"carol"}}},
		{name: "create twice", actor: "alice", cmd: CreateThread{Title: "t"}, want: AlreadyExists, field: "request_id"},
		{name: "create blank title", actor: "alice", cmd: CreateThread{Title: "  "}, want: Invalid, field: "title"},
		{name: "create title at limit", actor: "alice", cmd: CreateThread{Title: long(MaxTitleRunes)}},
		{name: "create title too long", actor: "alice", cmd: CreateThread{Title: long(MaxTitleRunes + 1)}, want: Invalid, field: "title"},
		{name: "create remarks too long", actor: "alice", cmd: CreateThread{Title: "t", Remarks: long(MaxRemarksRunes + 1)}, want: Invalid, field: "remarks"},
		{name: "create bad member id", actor: "alice", cmd: CreateThread{Title: "t", MemberIDs: []string{"bo b"}}, want: Invalid, field: "member_ids"},
		{name: "create bad admin id", actor: "alice", cmd: CreateThread{Title: "t", AdministratorIDs: []string{""}}, want: Invalid, field: "administrator_ids"},
		{name: "create too many members", actor: "alice", cmd: CreateThread{Title: "t", MemberIDs: accounts(MaxMembers)}, want: Invalid, field: "member_ids"},
		{name: "create bad actor", actor: "", cmd: CreateThread{Title: "t"}, want: Invalid, field: "actor"},

		{name: "command on missing thread", actor: "alice", cmd: PostMessage{Body: "hi"}, want: NotFound, field: "thread_id"},
		{name: "destroyed thread refuses", setup: func(f *fixture) { f.must("alice", DestroyThread{}) }, actor: "alice", cmd: PostMessage{Body: "hi"}, want: Conflict},

		{name: "update by admin", actor: "alice", cmd: UpdateThread{Title: str("new")}},
		{name: "update by member", actor: "bob", cmd: UpdateThread{Title: str("new")}, want: Forbidden},
		{name: "update nothing", actor: "alice", cmd: UpdateThread{}, want: Invalid, field: "title"},
		{name: "update blank title", actor: "alice", cmd: UpdateThread{Title: str("")}, want: Invalid, field: "title"},
		{name: "update remarks only", actor: "alice", cmd: UpdateThread{Remarks: str("r")}},

		{name: "destroy by admin", actor: "alice", cmd: DestroyThread{}},
		{name: "destroy by member", actor: "bob", cmd: DestroyThread{}, want: Forbidden},

		{name: "add members by admin", actor: "alice", cmd: AddMembers{AccountIDs: []string{"carol"}}},
		{name: "add members by member", actor: "bob", cmd: AddMembers{AccountIDs: []string{"carol"}}, want: Forbidden},
		{name: "add no members", actor: "alice", cmd: AddMembers{}, want: Invalid, field: "account_ids"},
		{name: "add too many at once", actor: "alice", cmd: AddMembers{AccountIDs: accounts(MaxAccountsPerCall + 1)}, want: Invalid, field: "account_ids"},
		{name: "add beyond member limit", setup: fill(MaxMembers - 3), actor: "alice", cmd: AddMembers{AccountIDs: []string{"x1", "x2"}}, want: Invalid, field: "account_ids"},
		{name: "add up to member limit", setup: fill(MaxMembers - 3), actor: "alice", cmd: AddMembers{AccountIDs: []string{"x1"}}},

		{name: "remove member by admin", actor: "alice", cmd: RemoveMembers{AccountIDs: []string{"bob"}}},
		{name: "member leaves", actor: "bob", cmd: RemoveMembers{AccountIDs: []string{"bob"}}},
		{name: "member removes another", setup: func(f *fixture) { f.must("alice", AddMembers{AccountIDs: []string{"carol"}}) }, actor: "bob", cmd: RemoveMembers{AccountIDs: []string{"carol"}}, want: Forbidden},
		// A thread a non-member cannot see answers as one that does not exist.
		{name: "non-member leaves", actor: "carol", cmd: RemoveMembers{AccountIDs: []string{"carol"}}, want: NotFound, field: "thread_id"},
		{name: "last admin leaves", actor: "alice", cmd: RemoveMembers{AccountIDs: []string{"alice"}}, want: Conflict},
		{name: "admin leaves when another remains", setup: func(f *fixture) { f.must("alice", AddAdministrators{AccountIDs: []string{"bob"}}) }, actor: "alice", cmd: RemoveMembers{AccountIDs: []string{"alice"}}},

		{name: "add admin", actor: "alice", cmd: AddAdministrators{AccountIDs: []string{"bob"}}},
		{name: "add admin by member", actor: "bob", cmd: AddAdministrators{AccountIDs: []string{"bob"}}, want: Forbidden},
		{name: "add admin bad id", actor: "alice", cmd: AddAdministrators{AccountIDs: []string{"a b"}}, want: Invalid, field: "account_ids"},
		{name: "remove last admin", actor: "alice", cmd: RemoveAdministrators{AccountIDs: []string{"alice"}}, want: Conflict},
		{name: "remove admin when another remains", setup: func(f *fixture) { f.must("alice", AddAdministrators{AccountIDs: []string{"bob"}}) }, actor: "bob", cmd: RemoveAdministrators{AccountIDs: []string{"alice"}}},
		{name: "remove admin by member", actor: "bob", cmd: RemoveAdministrators{AccountIDs: []string{"alice"}}, want: Forbidden},

		{name: "post by member", actor: "bob", cmd: PostMessage{Body: "hello"}},
		{name: "post by non-member", actor: "carol", cmd: PostMessage{Body: "hello"}, want: NotFound, field: "thread_id"},
		{name: "post blank", actor: "bob", cmd: PostMessage{Body: " \n"}, want: Invalid, field: "body"},
		{name: "post body at limit", actor: "bob", cmd: PostMessage{Body: long(MaxBodyRunes)}},
		{name: "post body too long", actor: "bob", cmd: PostMessage{Body: long(MaxBodyRunes + 1)}, want: Invalid, field: "body"},
		{name: "post invalid utf8", actor: "bob", cmd: PostMessage{Body: "\xff"}, want: Invalid, field: "body"},
		{name: "reply to existing", setup: post("alice"), actor: "bob", cmd: PostMessage{Body: "re", ReplyToMessageID: id(3002)}},
		{name: "reply to missing", actor: "bob", cmd: PostMessage{Body: "re", ReplyToMessageID: id(9)}, want: NotFound, field: "reply_to_message_id"},
		{name: "reply to bad id", actor: "bob", cmd: PostMessage{Body: "re", ReplyToMessageID: "x"}, want: Invalid, field: "reply_to_message_id"},
		{name: "mention member", actor: "bob", cmd: PostMessage{Body: "@alice", MentionAccountIDs: []string{"alice"}}},
		{name: "mention non-member", actor: "bob", cmd: PostMessage{Body: "@carol", MentionAccountIDs: []string{"carol"}}, want: Invalid, field: "mention_account_ids"},
		{name: "too many mentions", actor: "bob", cmd: PostMessage{Body: "@", MentionAccountIDs: accounts(MaxMentions + 1)}, want: Invalid, field: "mention_account_ids"},

		{name: "edit own", setup: post("bob"), actor: "bob", cmd: EditMessage{MessageID: id(3002), Body: "fixed"}},
		{name: "edit other's", setup: post("bob"), actor: "alice", cmd: EditMessage{MessageID: id(3002), Body: "fixed"}, want: Forbidden},
		{name: "edit missing", actor: "bob", cmd: EditMessage{MessageID: id(9), Body: "x"}, want: NotFound, field: "message_id"},
		{name: "edit bad id", actor: "bob", cmd: EditMessage{MessageID: "nope", Body: "x"}, want: Invalid, field: "message_id"},
		{name: "edit blank", setup: post("bob"), actor: "bob", cmd: EditMessage{MessageID: id(3002), Body: ""}, want: Invalid, field: "body"},
		{name: "edit by former member", setup: func(f *fixture) { post("bob")(f); f.must("bob", RemoveMembers{AccountIDs: []string{"bob"}}) }, actor: "bob", cmd: EditMessage{MessageID: id(3002), Body: "x"}, want: NotFound, field: "thread_id"},

		{name: "delete own", setup: post("bob"), actor: "bob", cmd: DeleteMessage{MessageID: id(3002)}},
		{name: "admin deletes other's", setup: post("bob"), actor: "alice", cmd: DeleteMessage{MessageID: id(3002)}},
		{name: "member deletes other's", setup: post("alice"), actor: "bob", cmd: DeleteMessage{MessageID: id(3002)}, want: Forbidden},
		{name: "delete twice", setup: func(f *fixture) { post("bob")(f); f.must("bob", DeleteMessage{MessageID: id(3002)}) }, actor: "bob", cmd: DeleteMessage{MessageID: id(3002)}, want: NotFound, field: "message_id"},
		{name: "edit deleted", setup: func(f *fixture) { post("bob")(f); f.must("bob", DeleteMessage{MessageID: id(3002)}) }, actor: "bob", cmd: EditMessage{MessageID: id(3002), Body: "x"}, want: NotFound, field: "message_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, isCreate := tc.cmd.(CreateThread)
			f := standard(t)
			if isCreate && tc.name != "create twice" || tc.name == "command on missing thread" {
				f = newFixture(t)
			}
			if tc.setup != nil {
				tc.setup(f)
			}
			before := f.thread.Version()
			r, err := f.do(tc.actor, tc.cmd)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if r.Version != before+1 || f.thread.Version() != before+1 {
					t.Fatalf("version %d (thread %d), want %d", r.Version, f.thread.Version(), before+1)
				}
				return
			}
			if KindOf(err) != tc.want {
				t.Fatalf("got %v (kind %v), want kind %v", err, KindOf(err), tc.want)
			}
			var de *Error
			errors.As(err, &de)
			if de.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", de.Field, tc.field, err)
			}
			if f.thread.Version() != before {
				t.Errorf("a refused command changed the version from %d to %d", before, f.thread.Version())
			}
		})
	}
}

func TestNoOpCommandsAppendNothing(t *testing.T) {
	cases := []Command{
		AddMembers{AccountIDs: []string{"bob"}},
		RemoveMembers{AccountIDs: []string{"carol"}},
		AddAdministrators{AccountIDs: []string{"alice"}},
		RemoveAdministrators{AccountIDs: []string{"bob"}},
	}
	for _, cmd := range cases {
		t.Run(fmt.Sprintf("%T", cmd), func(t *testing.T) {
			f := standard(t)
			e, r, err := f.thread.Decide(cmd, f.meta("alice"))
			if err != nil || e != nil || r.Version != 1 {
				t.Fatalf("got event %v, result %+v, err %v; want no event at version 1", e, r, err)
			}
		})
	}
}

func TestIdempotentRequestIDs(t *testing.T) {
	f := standard(t)
	m := f.meta("bob")
	first, err := f.doMeta(PostMessage{Body: "once"}, m)
	if err != nil {
		t.Fatal(err)
	}
	// The retry gets a new event id and message id from write-api, but the
	// same request id: it must answer the first result and append nothing.
	retry := m
	retry.EventID, retry.NewMessageID = id(7001), id(7002)
	e, again, err := f.thread.Decide(PostMessage{Body: "once"}, retry)
	if err != nil || e != nil {
		t.Fatalf("retry produced event %v, err %v", e, err)
	}
	if again.MessageID != first.MessageID || again.Version != first.Version || !again.Replayed {
		t.Fatalf("retry answered %+v, first answer was %+v", again, first)
	}
	if _, _, err := f.thread.Decide(UpdateThread{Title: str("x")}, Meta{ActorID: "bob", RequestID: m.RequestID, Now: t0}); KindOf(err) != AlreadyExists {
		t.Fatalf("request id reused for another command: got %v, want already exists", err)
	}
	if _, _, err := f.thread.Decide(PostMessage{Body: "twice"}, Meta{ActorID: "bob", RequestID: m.RequestID, NewMessageID: id(7003), Now: t0}); KindOf(err) != AlreadyExists {
		t.Fatalf("request id reused for another body: got %v, want already exists", err)
	}
	if _, _, err := f.thread.Decide(PostMessage{Body: "x"}, Meta{ActorID: "bob", RequestID: "not-a-ulid", NewMessageID: id(5), Now: t0}); KindOf(err) != Invalid {
		t.Fatalf("bad request id: got %v, want invalid", err)
	}
}

func TestRequestMemoryIsBounded(t *testing.T) {
	f := standard(t)
	firstReq := f.meta("bob")
	if _, err := f.doMeta(PostMessage{Body: "first"}, firstReq); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < RecentRequests+10; i++ {
		f.must("bob", PostMessage{Body: "more"})
	}
	if len(f.thread.requests.ring) != RecentRequests || len(f.thread.requests.index) != RecentRequests {
		t.Fatalf("request log holds %d/%d entries, want %d", len(f.thread.requests.ring), len(f.thread.requests.index), RecentRequests)
	}
	if _, ok := f.thread.requests.lookup("bob", firstReq.RequestID); ok {
		t.Fatal("the oldest request id is still remembered past the limit")
	}
}

func TestFoldRebuildsState(t *testing.T) {
	f := standard(t)
	f.must("alice", UpdateThread{Title: str("Renamed"), Remarks: str("notes")})
	f.must("alice", AddMembers{AccountIDs: []string{"carol", "dave"}})
	f.must("alice", AddAdministrators{AccountIDs: []string{"carol"}})
	f.must("bob", PostMessage{Body: "one"})
	r := f.must("carol", PostMessage{Body: "two", MentionAccountIDs: []string{"bob"}})
	f.must("bob", PostMessage{Body: "three", ReplyToMessageID: r.MessageID})
	f.must("carol", EditMessage{MessageID: r.MessageID, Body: "two!"})
	f.must("alice", DeleteMessage{MessageID: r.MessageID})
	f.must("alice", RemoveAdministrators{AccountIDs: []string{"carol"}})
	f.must("dave", RemoveMembers{AccountIDs: []string{"dave"}})
	f.must("alice", DestroyThread{})

	rebuilt := NewThread(f.thread.ID())
	for _, e := range f.events {
		if err := rebuilt.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(rebuilt, f.thread) {
		t.Fatalf("folding %d events rebuilt\n%+v\nwant\n%+v", len(f.events), rebuilt, f.thread)
	}
	// Applying the same events again changes nothing.
	for _, e := range f.events {
		if err := rebuilt.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(rebuilt, f.thread) {
		t.Fatal("re-applying events changed the state")
	}
	if got, want := f.thread.Members(), []string{"alice", "bob", "carol"}; !reflect.DeepEqual(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	if got, want := f.thread.Administrators(), []string{"alice"}; !reflect.DeepEqual(got, want) {
		t.Errorf("administrators %v, want %v", got, want)
	}
}

func TestApplyRefusesGaps(t *testing.T) {
	th := NewThread(id(0))
	err := th.Apply(Event{ID: id(1), ThreadID: id(0), Version: 2, Payload: MessageDeleted{}})
	if err == nil {
		t.Fatal("an event with a version gap was applied")
	}
	if err := th.Apply(Event{ID: id(1), ThreadID: id(99), Version: 1, Payload: ThreadCreated{}}); err == nil {
		t.Fatal("another thread's event was applied")
	}
}

func accounts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user-%d", i)
	}
	return out
}

func fill(n int) func(f *fixture) {
	return func(f *fixture) {
		ids := accounts(n)
		for len(ids) > 0 {
			k := min(MaxAccountsPerCall, len(ids))
			f.must("alice", AddMembers{AccountIDs: ids[:k]})
			ids = ids[k:]
		}
	}
}

func post(actor string) func(f *fixture) {
	return func(f *fixture) { f.must(actor, PostMessage{Body: "hello"}) }
}

// TestRequestIDsAreTheCallersOwn: a request id is remembered per account,
// with a hash of the request, and replays are answered only to their
// account, on a thread that still takes commands.
func TestRequestIDsAreTheCallersOwn(t *testing.T) {
	f := standard(t)
	m := f.meta("bob")
	first, err := f.doMeta(PostMessage{Body: "secret plans"}, m)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cmd  Command
		meta Meta
		want Kind
	}{
		{"a non-member replaying a member's request id learns nothing", PostMessage{Body: "secret plans"},
			Meta{ActorID: "carol", RequestID: m.RequestID, NewMessageID: id(8001), Now: t0}, NotFound},
		{"the same request id with another body is refused", PostMessage{Body: "other plans"},
			Meta{ActorID: "bob", RequestID: m.RequestID, NewMessageID: id(8002), Now: t0}, AlreadyExists},
		{"another account creating the same thread id is refused", CreateThread{Title: "mine now"},
			Meta{ActorID: "carol", RequestID: f.thread.ID(), Now: t0}, AlreadyExists},
	}
	for _, c := range cases {
		e, r, err := f.thread.Decide(c.cmd, c.meta)
		if KindOf(err) != c.want || e != nil || r.MessageID == first.MessageID {
			t.Fatalf("%s: got %+v, %v; want %s", c.name, r, err, c.want)
		}
	}
	// Another member reusing bob's request id makes a request of its own.
	f.must("alice", AddMembers{AccountIDs: []string{"dave"}})
	e, r, err := f.thread.Decide(PostMessage{Body: "secret plans"}, Meta{ActorID: "dave", RequestID: m.RequestID, EventID: id(8100), NewMessageID: id(8101), Now: t0})
	if err != nil || e == nil || r.Replayed || r.MessageID == first.MessageID {
		t.Fatalf("dave's request with bob's id: %+v, %v, event %v; want a new message", r, err, e)
	}
}

// TestDestroyedThreadIsNotCreatedAgain: after a destroy, retrying the
// request that created the thread does not answer success; retrying the
// destroy does.
func TestDestroyedThreadIsNotCreatedAgain(t *testing.T) {
	f := newFixture(t)
	create := Meta{ActorID: "alice", RequestID: f.thread.ID(), EventID: id(9001), Now: t0}
	if _, err := f.doMeta(CreateThread{Title: "t"}, create); err != nil {
		t.Fatal(err)
	}
	destroy := f.meta("alice")
	if _, err := f.doMeta(DestroyThread{}, destroy); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.thread.Decide(CreateThread{Title: "t"}, create); KindOf(err) != AlreadyExists {
		t.Fatalf("creating the destroyed thread again: %v, want already exists", err)
	}
	if _, r, err := f.thread.Decide(DestroyThread{}, destroy); err != nil || !r.Replayed {
		t.Fatalf("retrying the destroy: %+v, %v; want its first answer", r, err)
	}
	if _, _, err := f.thread.Decide(PostMessage{Body: "x"}, f.meta("alice")); KindOf(err) != Conflict {
		t.Fatalf("posting to the destroyed thread: %v, want conflict", err)
	}
}
