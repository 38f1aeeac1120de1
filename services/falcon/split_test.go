package main_test

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// TestSplitDeployment runs the read side as separate processes sharing one
// store through the HBase Thrift2 client: falcon broker, falcon store,
// write-api, two read-model-updaters and three read-apis. One updater is
// killed mid-stream; every read-api must still return the same, complete
// answers, each message once.
func TestSplitDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	be := startReadStore(t)
	b := &binaries
	wHTTP := testenv.FreeAddr(t)
	startProc(t, b.writeAPI, be.writeArgs("--partitions", "4", "--grpc-addr", testenv.FreeAddr(t), "--http-addr", wHTTP,
		"--metrics-addr", testenv.FreeAddr(t), "--log-level", "warn")...)
	waitReady(t, wHTTP)
	var updaters []*proc
	for i := 0; i < 2; i++ {
		h := testenv.FreeAddr(t)
		updaters = append(updaters, startProc(t, b.updater, be.updaterArgs("--http-addr", h, "--log-level", "warn")...))
		waitReady(t, h)
	}
	var readers []*devProcess
	for i := 0; i < 3; i++ {
		h := testenv.FreeAddr(t)
		startProc(t, b.readAPI, be.readArgs("--grpc-addr", testenv.FreeAddr(t), "--http-addr", h,
			"--metrics-addr", testenv.FreeAddr(t), "--log-level", "warn")...)
		waitReady(t, h)
		readers = append(readers, &devProcess{base: "http://" + h})
	}
	writer := &devProcess{base: "http://" + wHTTP}

	const threads = 8
	var ids []string
	for i := 0; i < threads; i++ {
		var v versioned
		writer.mustCall(t, "POST", "/v1/threads", "alice", map[string]any{"title": fmt.Sprint("t", i), "memberIds": []string{"bob"}}, &v)
		ids = append(ids, v.ThreadID)
	}
	var (
		mu      sync.Mutex
		acked   = map[string]map[string]bool{}
		version = map[string]int{}
		count   atomic.Int64
		wg      sync.WaitGroup
		failed  atomic.Value
	)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 100; n++ {
				tid := ids[(c*100+n)%threads]
				req := ulid.Make().String()
				var v versioned
				var code int
				var err error
				// Commands are retried with their request id until answered.
				for try := 0; try < 20; try++ {
					if code, err = writer.try("POST", "/v1/threads/"+tid+"/messages", "alice", map[string]any{"body": req, "requestId": req}, &v); err == nil && code == 200 {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if code != 200 {
					failed.Store(fmt.Sprintf("post: HTTP %d, %v", code, err))
					return
				}
				vn, _ := strconv.Atoi(v.Version)
				mu.Lock()
				if acked[tid] == nil {
					acked[tid] = map[string]bool{}
				}
				acked[tid][v.MessageID] = true
				version[tid] = max(version[tid], vn)
				mu.Unlock()
				count.Add(1)
			}
		}()
	}
	testenv.Eventually(t, 60*time.Second, "150 posts", func() bool { return count.Load() >= 150 })
	updaters[0].kill()
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}

	for _, tid := range ids {
		var lists [][]string
		for _, r := range readers {
			got := checkListed(t, r, tid, version[tid], acked[tid])
			var th struct {
				Thread struct {
					MessageCount string `json:"messageCount"`
					Version      string `json:"version"`
				} `json:"thread"`
			}
			r.mustCall(t, "GET", "/v1/threads/"+tid, "bob", nil, &th)
			if th.Thread.MessageCount != fmt.Sprint(len(got)) || th.Thread.Version != fmt.Sprint(version[tid]) {
				t.Fatalf("thread %s: count %s version %s, want %d and %d (an event applied twice or missed?)",
					tid, th.Thread.MessageCount, th.Thread.Version, len(got), version[tid])
			}
			lists = append(lists, got)
		}
		for i := 1; i < len(lists); i++ {
			if !reflect.DeepEqual(lists[0], lists[i]) {
				t.Fatalf("thread %s: read-api %d disagrees with read-api 0", tid, i)
			}
		}
	}
}

// startReadStore starts the test's Kafka and read store (falcon broker and
// falcon store, or a namespace of its own on real HBase) and creates the
// read-model tables with falcon store-init.
func startReadStore(t *testing.T) *backend {
	t.Helper()
	b := startKafka(t)
	if addr, ok := testenv.RealHBase(); ok {
		b.store = "hbase+thrift://" + addr + "?namespace=" + testenv.Name(t, "falcon")
		t.Cleanup(func() { dropNamespace(t, b.store) })
	} else {
		storeAddr := testenv.FreeAddr(t)
		startProc(t, binaries.falcon, "store", "--data-dir", t.TempDir(), "--addr", storeAddr)
		waitListening(t, storeAddr)
		b.store = "hbase+thrift://" + storeAddr
	}
	if out, err := exec.Command(binaries.falcon, "store-init", "--store", b.store).CombinedOutput(); err != nil {
		t.Fatalf("store-init: %v\n%s", err, out)
	}
	return b
}

// dropNamespace deletes a test's tables from a shared HBase.
func dropNamespace(t *testing.T, store string) {
	u, _ := url.Parse(store)
	o, err := hbasestore.ParseURL(u)
	if err != nil {
		t.Error(err)
		return
	}
	s, err := hbasestore.Open(context.Background(), o)
	if err != nil {
		t.Error(err)
		return
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.DropNamespace(ctx); err != nil {
		t.Logf("cleanup of %s: %v", store, err)
	}
}
