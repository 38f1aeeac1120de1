package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestOpenLoopCountsStalls: one client, 200 requests a second, and the
// 20th request stalls the "server" for 300 ms. In a closed loop that stall
// is one slow request; here every request due during it waits, and its
// latency is counted from when it was due, so dozens show it.
func TestOpenLoopCountsStalls(t *testing.T) {
	var n atomic.Int64
	op := func(context.Context, int, int) error {
		switch n.Add(1) {
		case 20:
			time.Sleep(300 * time.Millisecond)
		case 40:
			return status.Error(codes.Unavailable, "down")
		}
		return nil
	}
	c := config{scenario: "test", transport: "none", arrivalRate: 200, concurrency: 1, duration: time.Second}
	rep := openLoop(context.Background(), c, op, nil).report(c)
	if rep.Total.OK+rep.Total.Errors+rep.NotSent < 190 {
		t.Fatalf("%d answered, %d errors, %d not sent of ~200 due", rep.Total.OK, rep.Total.Errors, rep.NotSent)
	}
	if rep.Errors["Unavailable"] != 1 {
		t.Errorf("errors by code: %v, want one Unavailable", rep.Errors)
	}
	// 300 ms at 5 ms a request: ~60 requests were due during the stall,
	// the first waiting ~300 ms, the last ~5: the 90th percentile is well
	// above any single request's own time.
	if rep.Total.P90 < 50 || rep.Total.Max < 250 {
		t.Errorf("p90 %.1f ms, max %.1f ms: the stall did not show in the requests it delayed", rep.Total.P90, rep.Total.Max)
	}
	if len(rep.PerSecond) == 0 || rep.PerSecond[0].OK == 0 {
		t.Errorf("per second: %+v", rep.PerSecond)
	}
}

// TestOpenLoopNotSent: requests due while every client is busy until the
// end are reported, not forgotten.
func TestOpenLoopNotSent(t *testing.T) {
	block := make(chan struct{})
	op := func(ctx context.Context, _, _ int) error {
		select {
		case <-block:
		case <-time.After(2 * time.Second):
		}
		return errors.New("unblocked")
	}
	c := config{scenario: "test", transport: "none", arrivalRate: 100, concurrency: 2, duration: 500 * time.Millisecond}
	rep := openLoop(context.Background(), c, op, nil).report(c)
	close(block)
	if rep.NotSent < 30 {
		t.Errorf("%d not sent; want most of the ~50 due after the two clients blocked", rep.NotSent)
	}
}
