package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestBucketsPerKey(t *testing.T) {
	b := New(Budget{PerSecond: 1, Burst: 2})
	now := time.Unix(1_800_000_000, 0)
	for i, want := range []bool{true, true, false} {
		if ok, _ := b.Take("alice", now); ok != want {
			t.Fatalf("alice's take %d: %v, want %v", i, ok, want)
		}
	}
	if ok, wait := b.Take("alice", now); ok || wait != time.Second {
		t.Fatalf("alice past her burst: ok=%v, retry after %s, want 1s", ok, wait)
	}
	if ok, _ := b.Take("bob", now); !ok {
		t.Fatal("alice's flood spent bob's budget")
	}
	if ok, _ := b.Take("alice", now.Add(time.Second)); !ok {
		t.Fatal("no token after a second at one per second")
	}
}

// TestIdleBucketsAreDropped: a flood of distinct keys does not grow memory
// past what the idle time holds.
func TestIdleBucketsAreDropped(t *testing.T) {
	b := New(Budget{PerSecond: 10, Burst: 10}) // full again after 1 s
	now := time.Unix(1_800_000_000, 0)
	for i := range 100_000 {
		b.Take(fmt.Sprint("key", i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := b.Len(); n > 3000 {
		t.Fatalf("%d buckets held for keys seen over 100 s with a 1 s idle time", n)
	}
}

func TestAddressKey(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7":                "192.0.2.7",
		"192.0.2.7:4431":           "192.0.2.7",
		"::ffff:192.0.2.7":         "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::]:80": "2001:db8:1:2::/64",
		"bufconn":                  "unknown",
	}
	for in, want := range cases {
		if got := AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
}
