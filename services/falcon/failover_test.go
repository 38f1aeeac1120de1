package main_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/oklog/ulid/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// writeReplica is one write-api process.
type writeReplica struct {
	grpcAddr, httpAddr, adminAddr string
	proc                          *proc
	client                        falconv1.ThreadCommandServiceClient
}

func startWriteReplica(t *testing.T, be *backend, r *writeReplica) {
	t.Helper()
	if r.grpcAddr == "" {
		r.grpcAddr, r.httpAddr, r.adminAddr = testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
		conn, err := grpc.NewClient(r.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		r.client = falconv1.NewThreadCommandServiceClient(conn)
	}
	// Snapshots every 25 events of a partition: kills and takeovers land
	// among them, and a new owner loads them.
	r.proc = startProc(t, binaries.writeAPI, be.writeArgs("--partitions", "6", "--grpc-addr", r.grpcAddr,
		"--http-addr", r.httpAddr, "--metrics-addr", r.adminAddr, "--route-wait", "3s", "--snapshot-every", "25", "--log-level", "warn")...)
}

// metricValue reads a metric from a process's admin listener.
func metricValue(t *testing.T, adminAddr, name string) float64 {
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
			return v
		}
	}
	return -1
}

type answer struct {
	threadID, messageID string
	version             uint64
}

// commandLoad sends posts from concurrent clients to random replicas,
// retrying each with its request id until answered, and records answers.
type commandLoad struct {
	mu       sync.Mutex
	answers  map[string]answer // request id -> first answer
	conflict atomic.Value
	done     atomic.Int64
}

func (l *commandLoad) run(replicas []*writeReplica, threads []string, clients, perClient int) {
	// Bounded as a whole, so that a replica that never recovers fails the
	// test in minutes rather than hanging it.
	overall := time.Now().Add(4 * time.Minute)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < perClient; n++ {
				tid := threads[rand.IntN(len(threads))]
				req := ulid.Make().String()
				// A partition whose owner died is unavailable until the group
				// notices (session timeout, 10 s) and another replica loads it.
				deadline := time.Now().Add(90 * time.Second)
				if deadline.After(overall) {
					deadline = overall
				}
				for try := 0; time.Now().Before(deadline); try++ {
					r := replicas[rand.IntN(len(replicas))]
					ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-account-id", "alice"), 8*time.Second)
					resp, err := r.client.PostMessage(ctx, &falconv1.PostMessageRequest{ThreadId: tid, Body: req, RequestId: req})
					cancel()
					if err != nil {
						time.Sleep(100 * time.Millisecond)
						continue
					}
					a := answer{threadID: tid, messageID: resp.MessageId, version: resp.Version}
					l.mu.Lock()
					if prev, ok := l.answers[req]; ok && prev != a {
						l.conflict.Store(fmt.Sprintf("request %s answered %+v, then %+v", req, prev, a))
					} else {
						l.answers[req] = a
					}
					l.mu.Unlock()
					// A retry of an answered request must give the same answer.
					if try == 0 && n%10 == 0 {
						continue
					}
					break
				}
				l.done.Add(1)
			}
		}()
	}
	wg.Wait()
}

// checkTopic reads every event and checks: each answered request is there
// exactly once with the answer given; each thread's versions run 1, 2, 3...
func checkTopic(t *testing.T, be *backend, answers map[string]answer) {
	t.Helper()
	client, err := sarama.NewClient([]string{be.kafka}, eventlog.NewConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions(be.topic)
	if err != nil {
		t.Fatal(err)
	}
	byRequest := map[string][]answer{}
	versions := map[string][]uint64{}
	for _, p := range parts {
		end, err := client.GetOffset(be.topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		err = eventlog.ReadCommitted(testenv.Context(t, 30*time.Second), client, be.topic, p, 0, end, func(r eventlog.Record) error {
			return eventlog.DecodeEvents(r.Value, func(e domain.Event, err error) error {
				if err != nil {
					return err
				}
				versions[e.ThreadID] = append(versions[e.ThreadID], e.Version)
				a := answer{threadID: e.ThreadID, version: e.Version}
				if mp, ok := e.Payload.(domain.MessagePosted); ok {
					a.messageID = mp.MessageID
				}
				byRequest[e.RequestID] = append(byRequest[e.RequestID], a)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for req, a := range answers {
		got := byRequest[req]
		if len(got) != 1 {
			t.Fatalf("request %s was acknowledged and is in the topic %d times", req, len(got))
		}
		if got[0] != a {
			t.Fatalf("request %s was answered %+v, the topic has %+v", req, a, got[0])
		}
	}
	for req, got := range byRequest {
		if len(got) > 1 {
			t.Fatalf("request %s appended %d events", req, len(got))
		}
	}
	for tid, vs := range versions {
		for i, v := range vs {
			if v != uint64(i+1) {
				t.Fatalf("thread %s: versions %v are not 1, 2, 3...", tid, vs)
			}
		}
	}
}

// TestWriteReplicaKilledMidStream runs three write-api processes, sends
// commands to all of them, SIGKILLs one in the middle and starts it again.
func TestWriteReplicaKilledMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	be, replicas := startWriteCluster(t, 3)
	threads := createThreads(t, replicas, 12)
	load := &commandLoad{answers: map[string]answer{}}
	finished := make(chan struct{})
	go func() { load.run(replicas, threads, 16, 150); close(finished) }()
	testenv.Eventually(t, 60*time.Second, "a third of the commands", func() bool { return load.done.Load() >= 800 })
	replicas[1].proc.kill()
	testenv.Eventually(t, 120*time.Second, "two thirds of the commands", func() bool { return load.done.Load() >= 1600 })
	startWriteReplica(t, be, replicas[1])
	<-finished
	if c := load.conflict.Load(); c != nil {
		t.Fatal(c)
	}
	if len(load.answers) != 16*150 {
		t.Fatalf("%d of %d commands were answered", len(load.answers), 16*150)
	}
	if n := metricValue(t, replicas[0].adminAddr, "falcon_write_snapshots_total"); n <= 0 {
		t.Errorf("replica 0 wrote %v thread snapshots: the takeovers were not tried with snapshots", n)
	}
	checkTopic(t, be, load.answers)
}

// TestPausedOwnerIsFenced stops a write-api process (SIGSTOP) while commands
// are in flight to it, long enough for the group to give its partitions to
// the other replica, then resumes it (SIGCONT): what it had in flight must
// not be committed by it, and every success any client saw is in the topic
// once.
func TestPausedOwnerIsFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	be, replicas := startWriteCluster(t, 2)
	threads := createThreads(t, replicas[:1], 12)
	load := &commandLoad{answers: map[string]answer{}}
	finished := make(chan struct{})
	go func() { load.run(replicas[:1], threads, 16, 120); close(finished) }()
	testenv.Eventually(t, 60*time.Second, "commands flowing", func() bool { return load.done.Load() >= 300 })
	paused := replicas[0].proc.cmd.Process
	if err := paused.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "the other replica owning every partition", func() bool {
		return metricValue(t, replicas[1].adminAddr, "falcon_write_owned_partitions") == 6
	})
	if err := paused.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	<-finished
	if c := load.conflict.Load(); c != nil {
		t.Fatal(c)
	}
	testenv.Eventually(t, 30*time.Second, "the resumed replica fenced", func() bool {
		return metricValue(t, replicas[0].adminAddr, "falcon_write_fenced_total") > 0
	})
	checkTopic(t, be, load.answers)
}

// startWriteCluster starts the test's Kafka and n write-api processes over
// 6 partitions, and waits until every replica owns some of them.
func startWriteCluster(t *testing.T, n int) (*backend, []*writeReplica) {
	t.Helper()
	be := startKafka(t)
	replicas := make([]*writeReplica, n)
	for i := range replicas {
		replicas[i] = &writeReplica{}
		startWriteReplica(t, be, replicas[i])
	}
	testenv.Eventually(t, 90*time.Second, fmt.Sprintf("%d ready replicas sharing the partitions", n), func() bool {
		sum := 0.0
		for _, r := range replicas {
			v := metricValue(t, r.adminAddr, "falcon_write_owned_partitions")
			if v <= 0 {
				return false
			}
			sum += v
		}
		return sum == 6
	})
	return be, replicas
}

// createThreads creates n threads through the replicas in turn.
func createThreads(t *testing.T, replicas []*writeReplica, n int) []string {
	t.Helper()
	var threads []string
	for i := 0; i < n; i++ {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-account-id", "alice")
		resp, err := replicas[i%len(replicas)].client.CreateThread(ctx, &falconv1.CreateThreadRequest{Title: fmt.Sprint("t", i)})
		if err != nil {
			t.Fatal(err)
		}
		threads = append(threads, resp.ThreadId)
	}
	return threads
}
