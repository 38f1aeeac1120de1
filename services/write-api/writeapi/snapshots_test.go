package writeapi

import "testing"

// TestSnapshotRoundsAreSpacedByTheirCost: after a round that wrote 100
// indexed messages, the next waits for `every` events and, with
// perEvent, for 100/perEvent events; without perEvent for `every` only.
func TestSnapshotRoundsAreSpacedByTheirCost(t *testing.T) {
	cases := []struct {
		name     string
		perEvent int
		due      int // events after which the next round begins
	}{
		{"no bound", 0, 10},
		{"two messages an event", 2, 50},
		{"one message an event", 1, 100},
		{"cheap rounds", 50, 10}, // 100/50 is less than every
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := snapshotPolicy{every: 10, perEvent: c.perEvent}
			p.reset()
			p.round = &snapshotRound{cost: 100}
			p.ended(true)
			for n := 1; n <= 200; n++ {
				p.changed("t1")
				p.begin(nil, int64(n))
				if began := p.round != nil; began != (n == c.due) {
					t.Fatalf("after %d events: round begun %v, want one after exactly %d", n, began, c.due)
				}
				if p.round != nil {
					return
				}
			}
			t.Fatal("no round began")
		})
	}
}
