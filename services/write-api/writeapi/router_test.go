package writeapi

import (
	"errors"
	"testing"
	"time"
)

func TestRouterRefreshesWhenStaleOrMissing(t *testing.T) {
	calls := 0
	tables := []map[int32]string{{0: "a:1"}, {0: "a:1", 1: "b:1"}}
	var failNext bool
	r := &groupRouter{stale: true, describe: func() (map[int32]string, error) {
		calls++
		if failNext {
			return nil, errors.New("broker down")
		}
		return tables[min(calls-1, len(tables)-1)], nil
	}}
	steps := []struct {
		name       string
		invalidate bool
		fail       bool
		partition  int32
		want       string
		calls      int
	}{
		{name: "first lookup describes the group", partition: 0, want: "a:1", calls: 1},
		{name: "known owner needs no describe", partition: 0, want: "a:1", calls: 1},
		{name: "unknown partition describes again", partition: 1, want: "b:1", calls: 2},
		{name: "invalidated table describes again", invalidate: true, partition: 0, want: "a:1", calls: 3},
		{name: "failed describe keeps the last table", invalidate: true, fail: true, partition: 1, want: "b:1", calls: 4},
	}
	for _, s := range steps {
		if s.invalidate {
			r.Invalidate()
		}
		failNext = s.fail
		got, _ := r.Owner(s.partition)
		if got != s.want || calls != s.calls {
			t.Fatalf("%s: owner %q after %d describes, want %q after %d", s.name, got, calls, s.want, s.calls)
		}
	}
	r.minGap = time.Hour
	r.Invalidate()
	r.Owner(0)
	if calls != 4 {
		t.Fatal("describe ran more often than minGap allows")
	}
}
