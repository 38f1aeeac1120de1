package main_test

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/testenv"
)

// TestRebuildChangesNothingVisible rebuilds the read models into a new
// generation of tables while clients keep posting and reading: no reader
// ever sees a message disappear, and afterwards every acknowledged message
// is there once, served from the new tables.
func TestRebuildChangesNothingVisible(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	be := startReadStore(t)
	b := &binaries
	wHTTP, uHTTP, rHTTP, rAdmin := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	startProc(t, b.writeAPI, be.writeArgs("--partitions", "4", "--grpc-addr", testenv.FreeAddr(t), "--http-addr", wHTTP,
		"--metrics-addr", testenv.FreeAddr(t), "--log-level", "warn")...)
	updaterArgs := be.updaterArgs("--http-addr", uHTTP, "--log-level", "warn")
	updater := startProc(t, b.updater, updaterArgs...)
	startProc(t, b.readAPI, be.readArgs("--grpc-addr", testenv.FreeAddr(t), "--http-addr", rHTTP, "--metrics-addr", rAdmin, "--log-level", "warn")...)
	for _, a := range []string{wHTTP, uHTTP, rHTTP} {
		waitReady(t, a)
	}
	writer, reader := &devProcess{base: "http://" + wHTTP}, &devProcess{base: "http://" + rHTTP}

	var ids []string
	for i := 0; i < 4; i++ {
		var v versioned
		writer.mustCall(t, "POST", "/v1/threads", "alice", map[string]any{"title": fmt.Sprint("t", i), "memberIds": []string{"bob"}}, &v)
		ids = append(ids, v.ThreadID)
	}
	var (
		mu      sync.Mutex
		acked   = map[string]map[string]bool{}
		version = map[string]int{}
		last    = map[string]string{} // each thread's last message acknowledged
		stop    atomic.Bool
		wg      sync.WaitGroup
		problem atomic.Value
	)
	post := func(tid string) {
		req := ulid.Make().String()
		var v versioned
		for try := 0; try < 20; try++ {
			if code, err := writer.try("POST", "/v1/threads/"+tid+"/messages", "alice", map[string]any{"body": req, "requestId": req}, &v); err == nil && code == 200 {
				n, _ := strconv.Atoi(v.Version)
				mu.Lock()
				if acked[tid] == nil {
					acked[tid] = map[string]bool{}
				}
				acked[tid][v.MessageID] = true
				version[tid] = max(version[tid], n)
				last[tid] = v.MessageID
				mu.Unlock()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		problem.Store("a post was never answered")
	}
	for i := 0; i < 200; i++ {
		post(ids[i%len(ids)])
	}
	// Bob has read each thread up to its 50th message: his unread count is
	// then the messages acknowledged after it, whatever the projection goes
	// through below.
	read := map[string]int{}
	for _, tid := range ids {
		var v versioned
		writer.mustCall(t, "POST", "/v1/threads/"+tid+":markRead", "bob", map[string]any{"messageId": last[tid]}, &v)
		n, _ := strconv.Atoi(v.Version)
		version[tid] = max(version[tid], n)
		read[tid] = len(acked[tid])
	}
	for _, tid := range ids {
		waitForVersion(t, reader, tid, version[tid])
	}
	// Writers and readers keep going through an updater SIGKILL and the
	// rebuild.
	wg.Add(2)
	go func() {
		defer wg.Done()
		for n := 0; !stop.Load(); n++ {
			post(ids[n%len(ids)])
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		seen := map[string]map[string]bool{}
		for !stop.Load() {
			for _, tid := range ids {
				var page struct {
					Messages []struct {
						MessageID string `json:"messageId"`
					} `json:"messages"`
				}
				code, err := reader.try("GET", "/v1/threads/"+tid+"/messages?pageSize=200&order=MESSAGE_ORDER_NEWEST_FIRST", "bob", nil, &page)
				if err != nil || code != 200 {
					problem.Store(fmt.Sprintf("a read during the rebuild failed: HTTP %d, %v", code, err))
					return
				}
				now := map[string]bool{}
				for _, m := range page.Messages {
					now[m.MessageID] = true
				}
				oldest := ""
				if len(page.Messages) == 200 {
					oldest = page.Messages[len(page.Messages)-1].MessageID
				}
				for m := range seen[tid] {
					if !now[m] && m > oldest {
						problem.Store(fmt.Sprintf("message %s of thread %s disappeared during the rebuild", m, tid))
						return
					}
				}
				seen[tid] = now
			}
		}
	}()

	time.Sleep(300 * time.Millisecond)
	updater.kill()
	startProc(t, b.updater, updaterArgs...) // stopped by the test's cleanup
	waitReady(t, uHTTP)
	out, err := exec.Command(b.updater, append([]string{"rebuild"}, be.updaterArgs("--drop-old", "--log-level", "warn")...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "generation 1 is current") {
		t.Fatalf("rebuild said:\n%s", out)
	}
	testenv.Eventually(t, 10*time.Second, "read-api on generation 1", func() bool {
		resp, err := http.Get("http://" + rAdmin + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), "falcon_read_model_generation 1")
	})
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	if p := problem.Load(); p != nil {
		t.Fatal(p)
	}
	for _, tid := range ids {
		checkListed(t, reader, tid, version[tid], acked[tid])
	}
	var list struct {
		Threads []struct {
			ThreadID    string `json:"threadId"`
			UnreadCount string `json:"unreadCount"`
		} `json:"threads"`
	}
	reader.mustCall(t, "GET", "/v1/threads", "bob", nil, &list)
	if len(list.Threads) != len(ids) {
		t.Fatalf("bob lists %d threads, want %d", len(list.Threads), len(ids))
	}
	for _, th := range list.Threads {
		if want := fmt.Sprint(len(acked[th.ThreadID]) - read[th.ThreadID]); th.UnreadCount != want {
			t.Errorf("after the kill and the rebuild bob has %s unread in thread %s, want %s", th.UnreadCount, th.ThreadID, want)
		}
	}
	t.Logf("rebuild output:\n%s", out)
}
