package updater

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// syncingStore records the syncs among the marks; its next sync fails
// when fail is set.
type syncingStore struct {
	readstore.Store
	ops  *[]string
	fail bool
}

func (s *syncingStore) ApplyVisible(context.Context, []readstore.Mutation) error { return nil }

func (s *syncingStore) Sync(context.Context) error {
	if s.fail {
		s.fail = false
		*s.ops = append(*s.ops, "sync failed")
		return errors.New("disk full")
	}
	*s.ops = append(*s.ops, "sync")
	return nil
}

func TestOffsetsAreMarkedOnlyAfterASync(t *testing.T) {
	ctx := context.Background()
	var ops []string
	mark := func(name string) func() { return func() { ops = append(ops, name) } }
	store := &syncingStore{ops: &ops}
	g := newGroupSync(store, time.Hour, zap.NewNop())

	g.after(mark("mark 1"))
	g.after(mark("mark 2"))
	if len(ops) != 0 {
		t.Fatalf("marked before any sync: %v", ops)
	}
	store.fail = true
	if err := g.now(ctx); err == nil {
		t.Fatal("a failed sync was not reported")
	}
	g.after(mark("mark 3"))
	if err := g.now(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.now(ctx); err != nil { // nothing waits: no sync
		t.Fatal(err)
	}
	want := []string{"sync failed", "sync", "mark 1", "mark 2", "mark 3"}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("operations %v, want %v", ops, want)
	}
}

func TestOffsetsAreMarkedAtOnceOnAStoreDurableAtEachWrite(t *testing.T) {
	var marked bool
	type durableStore struct{ readstore.Store }
	g := newGroupSync(durableStore{}, time.Hour, zap.NewNop())
	g.after(func() { marked = true })
	if !marked {
		t.Fatal("a store without group commit had its offset held back")
	}
}

func TestTheSyncerSyncsWhileMarksWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ops []string
	g := newGroupSync(&syncingStore{ops: &ops}, time.Millisecond, zap.NewNop())
	marked := make(chan struct{})
	g.after(func() { close(marked) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.run(ctx)
	}()
	select {
	case <-marked:
	case <-time.After(10 * time.Second):
		t.Fatal("no sync marked the waiting offset")
	}
	cancel()
	<-done
}
