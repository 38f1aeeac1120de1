package main

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

func TestPerSecondKeepsEachSecondApart(t *testing.T) {
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var s perSecond
	s.record(start.Add(time.Second), time.Hour) // before the start: not counted
	s.start(start)
	s.record(start.Add(-time.Millisecond), time.Hour) // decided before the start
	for i := 1; i <= 100; i++ {
		s.record(start.Add(time.Duration(i)*time.Millisecond), time.Duration(i)*time.Millisecond)
	}
	s.record(start.Add(2500*time.Millisecond), 300*time.Millisecond)
	got := s.seconds()
	want := []secondStats{
		{second: 0, events: 100, p50: 51 * time.Millisecond, p99: 100 * time.Millisecond, max: 100 * time.Millisecond},
		{second: 2, events: 1, p50: 300 * time.Millisecond, p99: 300 * time.Millisecond, max: 300 * time.Millisecond},
	}
	if len(got) != len(want) {
		t.Fatalf("seconds = %v, want %v", got, want)
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("second %d = %+v, want %+v", w.second, got[i], w)
		}
	}
}

func TestCommitsMatchArrivalsWhateverTheOrder(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	header := func(t time.Time) metadata.MD { return metadata.Pairs(committedHeader, t.Format(time.RFC3339Nano)) }
	c := newCommits()
	a, b := eventKey{1, 2}, eventKey{1, 3}
	// A push may arrive before its post's answer gives the commit time.
	c.arrived(a, at.Add(40*time.Millisecond))
	c.committed(a, header(at))
	c.committed(b, header(at.Add(time.Second)))
	c.arrived(b, at.Add(time.Second+7*time.Millisecond))
	c.arrived(b, at.Add(time.Second+9*time.Millisecond))
	c.committed(eventKey{2, 2}, metadata.MD{})                        // no header: nothing known
	c.arrived(eventKey{2, 2}, at.Add(time.Second))                    // so not matched
	c.committed(eventKey{3, 2}, metadata.Pairs(committedHeader, "x")) // malformed: nothing known
	var by perSecond
	by.start(at)
	got, unmatched := c.latencies(&by)
	want := []time.Duration{40 * time.Millisecond, 7 * time.Millisecond, 9 * time.Millisecond}
	if !slices.Equal(got, want) || unmatched != 1 {
		t.Fatalf("latencies %v, %d unmatched; want %v, 1", got, unmatched, want)
	}
	if s := by.seconds(); len(s) != 2 || s[0].events != 1 || s[1].events != 2 {
		t.Fatalf("by second of commit: %+v", s)
	}
}
