package forwarder

import (
	"reflect"
	"testing"
)

func TestTrackerCommitsOnlyContiguousRuns(t *testing.T) {
	var commits []int64
	tr := newTracker(10, func(next int64) { commits = append(commits, next) })
	for _, o := range []int64{10, 11, 13, 14} { // 12 was a transaction marker
		tr.add(o)
	}
	steps := []struct {
		complete int64
		want     []int64
	}{
		{11, nil},
		{14, nil},
		{10, []int64{12}},
		{13, []int64{12, 15}},
	}
	for _, s := range steps {
		tr.complete(s.complete)
		if !reflect.DeepEqual(commits, s.want) {
			t.Fatalf("after completing %d: commits %v, want %v", s.complete, commits, s.want)
		}
	}
	if tr.committed() != 15 {
		t.Fatalf("committed %d, want 15", tr.committed())
	}
	if n := tr.outstanding(); n != 0 {
		t.Fatalf("%d outstanding after all completed", n)
	}
}
