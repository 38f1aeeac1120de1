package main_test

import (
	"fmt"
	"testing"

	"github.com/falcon-chat/falcon/libs/testenv"
)

// TestStreamResumesOnAnotherReadReplicaAfterSIGKILL: two read-api
// processes; bob's stream is on the first when it is killed mid-load; he
// reconnects to the second with his last event's id and receives every
// message posted, once each, in order.
func TestStreamResumesOnAnotherReadReplicaAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	be := startReadStore(t)
	b := &binaries
	wHTTP, uHTTP := testenv.FreeAddr(t), testenv.FreeAddr(t)
	startProc(t, b.writeAPI, be.writeArgs("--partitions", "4", "--grpc-addr", testenv.FreeAddr(t), "--http-addr", wHTTP,
		"--metrics-addr", testenv.FreeAddr(t), "--log-level", "warn")...)
	startProc(t, b.updater, be.updaterArgs("--http-addr", uHTTP, "--log-level", "warn")...)
	var readers []*proc
	var bases []string
	for range 2 {
		h := testenv.FreeAddr(t)
		readers = append(readers, startProc(t, b.readAPI, be.readArgs("--grpc-addr", testenv.FreeAddr(t), "--http-addr", h,
			"--metrics-addr", testenv.FreeAddr(t), "--log-level", "warn")...))
		bases = append(bases, "http://"+h)
	}
	waitReady(t, wHTTP)
	waitReady(t, uHTTP)
	for _, base := range bases {
		waitReady(t, base[len("http://"):])
	}
	writer := &devProcess{base: "http://" + wHTTP}

	// Subscribed before the thread exists: a stream "from now" starts where
	// the replica stands, which may be before or after an event just
	// acknowledged, so the test does not subscribe between the two.
	code, bob := openEvents(t, bases[0], "bob", "")
	if code != 200 {
		t.Fatalf("subscribe: HTTP %d", code)
	}
	var created versioned
	writer.mustCall(t, "POST", "/v1/threads", "alice", map[string]any{"title": "failover", "memberIds": []string{"bob"}}, &created)
	if m, _ := bob.next(t); m.event != "ThreadCreated" {
		t.Fatalf("first event %s, want ThreadCreated", m.event)
	}
	const posts = 120
	done := make(chan error, 1)
	go func() {
		for i := range posts {
			if code, err := writer.try("POST", "/v1/threads/"+created.ThreadID+"/messages", "alice", map[string]any{"body": fmt.Sprint(i)}, nil); err != nil || code != 200 {
				done <- fmt.Errorf("post %d: HTTP %d, %v", i, code, err)
				return
			}
		}
		done <- nil
	}()
	var got []string
	for len(got) < 40 {
		m, data := bob.next(t)
		got = append(got, fmt.Sprint(m.event, "@", data["version"]))
	}
	readers[0].kill()
	// The killed replica's stream ends without a goodbye; what arrived
	// before the connection broke still counts.
	for m := range bob.msgs {
		if m.event != "end" {
			var data map[string]any
			_ = jsonUnmarshal(m.data, &data)
			got = append(got, fmt.Sprint(m.event, "@", data["version"]))
			bob.lastID = m.id
		}
	}
	code, bob2 := openEvents(t, bases[1], "bob", bob.lastID)
	if code != 200 {
		t.Fatalf("resume on the second replica: HTTP %d", code)
	}
	for len(got) < posts {
		m, data := bob2.next(t)
		got = append(got, fmt.Sprint(m.event, "@", data["version"]))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	bob2.quiet(t)
	for i, g := range got {
		if want := fmt.Sprint("MessagePosted@", i+2); g != want {
			t.Fatalf("event %d received: %s, want %s (all: %v)", i, g, want, got)
		}
	}
}
