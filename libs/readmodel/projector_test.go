package readmodel

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/pebblestore"
)

type history struct {
	t      *testing.T
	now    time.Time
	events []domain.Event
	thread map[string]*domain.Thread
}

func (h *history) do(threadID, actor string, cmd domain.Command) domain.Result {
	h.t.Helper()
	th := h.thread[threadID]
	if th == nil {
		th = domain.NewThread(threadID)
		h.thread[threadID] = th
	}
	h.now = h.now.Add(time.Second)
	e, r, err := th.Decide(cmd, domain.Meta{ActorID: actor, EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: h.now})
	if err != nil {
		h.t.Fatalf("%s: %v", cmd.Name(), err)
	}
	if err := th.Apply(*e); err != nil {
		h.t.Fatal(err)
	}
	h.events = append(h.events, *e)
	return r
}

func TestProjection(t *testing.T) {
	ctx := context.Background()
	store, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := &history{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), thread: map[string]*domain.Thread{}}
	a, b := ulid.Make().String(), ulid.Make().String()
	h.do(a, "alice", domain.CreateThread{Title: "A", MemberIDs: []string{"bob"}})
	h.do(b, "alice", domain.CreateThread{Title: "B"})
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, h.do(a, "bob", domain.PostMessage{Body: fmt.Sprint("m", i)}).MessageID)
	}
	h.do(a, "bob", domain.EditMessage{MessageID: ids[1], Body: "edited"})
	h.do(a, "alice", domain.DeleteMessage{MessageID: ids[2]})
	h.do(b, "alice", domain.AddMembers{AccountIDs: []string{"bob", "carol"}})
	h.do(b, "alice", domain.PostMessage{Body: "latest"})
	h.do(b, "alice", domain.RemoveMembers{AccountIDs: []string{"carol"}})

	p := NewProjector(store)
	// Split into batches at every cut point, then replay everything: the
	// result must be the same as one batch, and the replay a no-op.
	for cut := 1; cut < len(h.events); cut += 3 {
		if _, err := p.Apply(ctx, h.events[:cut]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Apply(ctx, h.events); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Apply(ctx, h.events); err != nil || n != 0 {
		t.Fatalf("replaying applied %d events (err %v), want 0", n, err)
	}

	r := NewReader(store)
	ta, ok, err := r.Thread(ctx, a)
	if err != nil || !ok {
		t.Fatalf("thread a: %v %v", ok, err)
	}
	if ta.Version != 8 || ta.MessageCount != 4 || !reflect.DeepEqual(ta.Members, []string{"alice", "bob"}) {
		t.Fatalf("thread a = %+v", ta)
	}
	msgs, err := r.Messages(ctx, a, "", false, 10)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, m.Body)
	}
	if want := []string{"m0", "edited", "m3", "m4"}; !reflect.DeepEqual(bodies, want) {
		t.Fatalf("messages %v, want %v", bodies, want)
	}
	page, _ := r.Messages(ctx, a, ids[3], true, 2)
	if len(page) != 2 || page[0].ID != ids[1] || page[1].ID != ids[0] {
		t.Fatalf("newest-first page before %s: %+v", ids[3], page)
	}
	page, _ = r.Messages(ctx, a, ids[1], false, 1)
	if len(page) != 1 || page[0].ID != ids[3] {
		t.Fatalf("oldest-first page after %s: %+v", ids[1], page)
	}

	// bob's threads: b had the latest activity.
	threads, err := r.AccountThreads(ctx, "bob", nil, 1)
	if err != nil || len(threads) != 1 || threads[0].Summary.ID != b {
		t.Fatalf("bob's first thread: %+v %v", threads, err)
	}
	cursor := threads[0].Cursor
	threads, _ = r.AccountThreads(ctx, "bob", cursor, 10)
	if len(threads) != 1 || threads[0].Summary.ID != a {
		t.Fatalf("bob's second page: %+v", threads)
	}
	if threads, _ := r.AccountThreads(ctx, "carol", nil, 10); len(threads) != 0 {
		t.Fatalf("carol left b but still lists %+v", threads)
	}
	if _, err := r.AccountThreads(ctx, "carol", cursor, 10); err != ErrBadCursor {
		t.Fatalf("bob's cursor used by carol: %v, want ErrBadCursor", err)
	}
}
