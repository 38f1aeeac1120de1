package main

import (
	"testing"
	"time"
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
