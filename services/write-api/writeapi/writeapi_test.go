package writeapi_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/libs/testenv"
	"github.com/falcon-chat/falcon/libs/testpki"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
	"github.com/falcon-chat/falcon/libs/tracing"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
	"github.com/falcon-chat/falcon/services/write-api/writeapi"
)

type replica struct {
	grpcAddr string
	client   falconv1.ThreadCommandServiceClient
	imports  falconv1.ImportServiceClient
	metrics  *prometheus.Registry
	ready    func() error
	stop     func()
}

func startReplica(t *testing.T, brokers, topic string, options ...func(*writeapi.Config)) *replica {
	t.Helper()
	return startReplicaTLS(t, brokers, topic, nil, options...)
}

// startReplicaTLS starts a replica whose listeners require mutual TLS with
// pki's certificates, and which forwards over it, when pki is not nil.
func startReplicaTLS(t *testing.T, brokers, topic string, pki *testpki.PKI, options ...func(*writeapi.Config)) *replica {
	t.Helper()
	var cfg writeapi.Config
	cfg.RegisterFlags(flagSet())
	cfg.Kafka.Brokers = []string{brokers}
	cfg.Kafka.Topic = topic
	// Replicas of one test share a group (and the secret proving forwarded
	// commands); tests sharing a real Kafka do not.
	cfg.Group = topic + "_writers"
	cfg.ReplicaSecret = "test-replica-secret"
	cfg.Partitions = 4
	var serverTLS tlsfiles.Server
	clientCreds := insecure.NewCredentials()
	if pki != nil {
		serverTLS = tlsfiles.Server{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, ClientCAFile: pki.CAFile}
		cfg.ReplicaTLS = tlsfiles.Client{CAFile: pki.CAFile, CertFile: pki.ServerCert, KeyFile: pki.ServerKey}
		tc, err := tlsfiles.Client{CAFile: pki.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}.Config()
		if err != nil {
			t.Fatal(err)
		}
		clientCreds = credentials.NewTLS(tc)
	}
	for _, o := range options {
		o(&cfg)
	}
	ls := testenv.Listeners(t)
	cfg.GRPCAddr, cfg.HTTPAddr = ls.GRPC.Addr().String(), ls.HTTP.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	log := testenv.Logger(t)
	w, err := writeapi.New(cfg, log, reg, tracing.Off().Provider)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Serving{Log: log, Authn: auth.Dev{}, Registry: reg, Listeners: ls, TLS: serverTLS}, w)
	}()
	conn, err := grpc.NewClient(cfg.GRPCAddr, grpc.WithTransportCredentials(clientCreds))
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{grpcAddr: cfg.GRPCAddr, client: falconv1.NewThreadCommandServiceClient(conn),
		imports: falconv1.NewImportServiceClient(conn), metrics: reg, ready: w.Ready}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("write-api stopped with %v", err)
			}
			conn.Close()
		})
	}
	t.Cleanup(r.stop)
	testenv.Eventually(t, 30*time.Second, "write-api ready", func() bool { return w.Ready() == nil })
	return r
}

func as(account string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), auth.AccountHeader, account)
}

func TestCommandsAreAppendedOnceAndAnsweredWithVersions(t *testing.T) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "events")
	r := startReplica(t, brokers, topic)
	ctx := as("alice")

	created, err := r.client.CreateThread(ctx, &falconv1.CreateThreadRequest{Title: "Launch", MemberIds: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if created.Version != 1 || created.ThreadId == "" {
		t.Fatalf("create answered %+v", created)
	}
	reqID := ulid.Make().String()
	post := &falconv1.PostMessageRequest{ThreadId: created.ThreadId, Body: "hello", RequestId: reqID}
	var firstHeader, againHeader metadata.MD
	sent := time.Now()
	first, err := r.client.PostMessage(as("bob"), post, grpc.Header(&firstHeader))
	if err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	again, err := r.client.PostMessage(as("bob"), post, grpc.Header(&againHeader))
	if err != nil {
		t.Fatal(err)
	}
	if first.Version != 2 || again.Version != first.Version || again.MessageId != first.MessageId {
		t.Fatalf("post answered %+v, retry %+v", first, again)
	}
	// The answer says when its event committed; an answer given again
	// appended nothing and says nothing.
	if at := committedAt(t, firstHeader); at.Before(sent) || at.After(answered) {
		t.Fatalf("%s: %v, want a time between the request (%v) and its answer (%v)", writeapi.CommittedHeader, firstHeader.Get(writeapi.CommittedHeader), sent, answered)
	}
	if v := againHeader.Get(writeapi.CommittedHeader); len(v) != 0 {
		t.Fatalf("the retried post's answer has %s %v; it appended nothing", writeapi.CommittedHeader, v)
	}

	refused := []struct {
		name string
		call func() error
		code codes.Code
	}{
		// A thread a caller cannot see answers as if it did not exist.
		{"non-member posts", func() error {
			_, err := r.client.PostMessage(as("carol"), &falconv1.PostMessageRequest{ThreadId: created.ThreadId, Body: "x"})
			return err
		}, codes.NotFound},
		{"empty body", func() error {
			_, err := r.client.PostMessage(as("bob"), &falconv1.PostMessageRequest{ThreadId: created.ThreadId})
			return err
		}, codes.InvalidArgument},
		{"bad thread id", func() error {
			_, err := r.client.PostMessage(as("bob"), &falconv1.PostMessageRequest{ThreadId: "nope", Body: "x"})
			return err
		}, codes.InvalidArgument},
		{"unknown thread", func() error {
			_, err := r.client.PostMessage(as("bob"), &falconv1.PostMessageRequest{ThreadId: ulid.Make().String(), Body: "x"})
			return err
		}, codes.NotFound},
		{"edit by someone else", func() error {
			_, err := r.client.EditMessage(as("alice"), &falconv1.EditMessageRequest{ThreadId: created.ThreadId, MessageId: first.MessageId, Body: "x"})
			return err
		}, codes.PermissionDenied},
		{"no identity", func() error {
			_, err := r.client.PostMessage(context.Background(), &falconv1.PostMessageRequest{ThreadId: created.ThreadId, Body: "x"})
			return err
		}, codes.Unauthenticated},
		{"last administrator leaves", func() error {
			_, err := r.client.RemoveMembers(as("alice"), &falconv1.RemoveMembersRequest{ThreadId: created.ThreadId, AccountIds: []string{"alice"}})
			return err
		}, codes.FailedPrecondition},
	}
	for _, tc := range refused {
		if code := status.Code(tc.call()); code != tc.code {
			t.Errorf("%s: code %v, want %v", tc.name, code, tc.code)
		}
	}

	// The topic holds exactly the two accepted events.
	events := readAll(t, brokers, topic)
	if len(events) != 2 {
		t.Fatalf("topic holds %d events, want 2", len(events))
	}

	// A new replica (after the first stops) rebuilds the thread from the
	// log: the retried request is still recognised and versions continue.
	r.stop()
	r2 := startReplica(t, brokers, topic)
	again, err = r2.client.PostMessage(as("bob"), post)
	if err != nil || again.MessageId != first.MessageId {
		t.Fatalf("after restart the retry answered %+v, %v; want %s", again, err, first.MessageId)
	}
	next, err := r2.client.PostMessage(as("bob"), &falconv1.PostMessageRequest{ThreadId: created.ThreadId, Body: "after restart"})
	if err != nil || next.Version != 3 {
		t.Fatalf("post after restart: %+v, %v; want version 3", next, err)
	}
}

func readAll(t *testing.T, brokers, topic string) []eventlog.Record {
	t.Helper()
	client, err := sarama.NewClient([]string{brokers}, eventlog.NewConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []eventlog.Record
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		err = eventlog.ReadCommitted(testenv.Context(t, 10*time.Second), client, topic, p, 0, end, func(r eventlog.Record) error {
			out = append(out, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// counter sums a counter's samples whose labels include the given ones
// (of a histogram, its observations).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == k && lp.GetValue() == v
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func TestCommandsForOtherPartitionsAreForwardedToTheirOwner(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testForwarding(t, nil) })
	// Replicas that require mutual TLS of clients forward to each other
	// over it, presenting their own certificates.
	t.Run("mutual TLS", func(t *testing.T) { testForwarding(t, testpki.New(t)) })
}

func testForwarding(t *testing.T, pki *testpki.PKI) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "events")
	a := startReplicaTLS(t, brokers, topic, pki)
	b := startReplicaTLS(t, brokers, topic, pki)
	testenv.Eventually(t, 60*time.Second, "both replicas own partitions", func() bool {
		return a.ready() == nil && b.ready() == nil &&
			counter(t, a.metrics, "falcon_write_rebalances_total", nil) >= 2
	})
	var threads []string
	for i := 0; i < 16; i++ {
		r, err := a.client.CreateThread(as("alice"), &falconv1.CreateThreadRequest{Title: "spread", MemberIds: []string{"bob"}})
		if err != nil {
			t.Fatalf("create through replica a: %v", err)
		}
		threads = append(threads, r.ThreadId)
	}
	for _, tid := range threads {
		var header metadata.MD
		r, err := b.client.PostMessage(as("bob"), &falconv1.PostMessageRequest{ThreadId: tid, Body: "via b"}, grpc.Header(&header))
		if err != nil || r.Version != 2 {
			t.Fatalf("post through replica b: %+v, %v", r, err)
		}
		// Forwarded or not, the answer says when the owner committed.
		if committedAt(t, header).IsZero() {
			t.Fatalf("post through replica b answered without %s: %v", writeapi.CommittedHeader, header)
		}
	}
	fa := counter(t, a.metrics, "falcon_write_forwarded_commands_total", map[string]string{"outcome": "OK"})
	fb := counter(t, b.metrics, "falcon_write_forwarded_commands_total", map[string]string{"outcome": "OK"})
	if fa == 0 || fb == 0 {
		t.Fatalf("forwarded by a: %v, by b: %v; each owns half the partitions, so each must forward some", fa, fb)
	}
	if got := len(readAll(t, brokers, topic)); got != 32 {
		t.Fatalf("topic holds %d events, want 32", got)
	}
}

func TestTakeoverLoadsSnapshotsAndFallsBackToReplay(t *testing.T) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "snap")
	every := func(c *writeapi.Config) { c.SnapshotEvery = 20 }
	r := startReplica(t, brokers, topic, every)
	var threads []string
	for i := 0; i < 3; i++ {
		resp, err := r.client.CreateThread(as("alice"), &falconv1.CreateThreadRequest{Title: "snap"})
		if err != nil {
			t.Fatal(err)
		}
		threads = append(threads, resp.ThreadId)
	}
	last := map[string]*falconv1.PostMessageResponse{}
	lastReq := map[string]string{}
	for i := 0; i < 120; i++ {
		tid := threads[i%3]
		req := ulid.Make().String()
		resp, err := r.client.PostMessage(as("alice"), &falconv1.PostMessageRequest{ThreadId: tid, Body: "m", RequestId: req})
		if err != nil {
			t.Fatal(err)
		}
		last[tid], lastReq[tid] = resp, req
	}
	if n := counter(t, r.metrics, "falcon_write_snapshots_total", nil); n == 0 {
		t.Fatal("no snapshot was written")
	}
	// The first snapshot of an owner is complete, the next of what changed.
	for _, kind := range []string{"complete", "changed"} {
		if n := counter(t, r.metrics, "falcon_write_snapshot_duration_seconds", map[string]string{"kind": kind}); n == 0 {
			t.Errorf("no %s snapshot timed", kind)
		}
	}
	r.stop()

	check := func(r *replica) {
		t.Helper()
		for _, tid := range threads {
			// The retried request is recognised from the restored state...
			again, err := r.client.PostMessage(as("alice"), &falconv1.PostMessageRequest{ThreadId: tid, Body: "m", RequestId: lastReq[tid]})
			if err != nil || again.MessageId != last[tid].MessageId || again.Version != last[tid].Version {
				t.Fatalf("retry after takeover: %+v, %v; want %+v", again, err, last[tid])
			}
			// ...and versions go on from where they were.
			next, err := r.client.PostMessage(as("alice"), &falconv1.PostMessageRequest{ThreadId: tid, Body: "next"})
			if err != nil || next.Version != last[tid].Version+1 {
				t.Fatalf("post after takeover: %+v, %v; want version %d", next, err, last[tid].Version+1)
			}
			last[tid] = next
		}
	}
	r2 := startReplica(t, brokers, topic, every)
	if replayed := counter(t, r2.metrics, "falcon_write_replayed_events_total", nil); replayed >= 123 {
		t.Fatalf("the takeover replayed %v events of 123: the snapshots were not used", replayed)
	}
	check(r2)
	r2.stop()

	// An unreadable snapshot: the next owner replays everything instead.
	cfg := eventlog.NewConfig("test")
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	prod, err := sarama.NewSyncProducer([]string{brokers}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 4; p++ {
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: eventlog.SnapshotsTopic(topic), Partition: p,
			Key: sarama.StringEncoder(threads[0]), Value: sarama.ByteEncoder([]byte{0xff, 0xff, 0xff})}); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()
	r3 := startReplica(t, brokers, topic, every)
	if n := counter(t, r3.metrics, "falcon_write_snapshot_fallbacks_total", nil); n == 0 {
		t.Fatal("the unreadable snapshot was not noticed")
	}
	for _, tid := range threads {
		next, err := r3.client.PostMessage(as("alice"), &falconv1.PostMessageRequest{ThreadId: tid, Body: "after fallback"})
		if err != nil || next.Version != last[tid].Version+1 {
			t.Fatalf("post after fallback: %+v, %v; want version %d", next, err, last[tid].Version+1)
		}
	}
}

// TestCreatesItsTopicsAsConfigured: write-api creates the events topic and
// the compacted snapshots topic with --partitions partitions, and leaves
// existing ones alone; with --create-topics=false it waits, not ready,
// saying which topic it waits for.
func TestCreatesItsTopicsAsConfigured(t *testing.T) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "created")
	startReplica(t, brokers, topic, func(c *writeapi.Config) { c.Partitions, c.SnapshotEvery = 3, 100 })
	admin, err := sarama.NewClusterAdmin([]string{brokers}, eventlog.NewConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	snapshots := eventlog.SnapshotsTopic(topic)
	meta, err := admin.DescribeTopics([]string{topic, snapshots})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range meta {
		if !errors.Is(m.Err, sarama.ErrNoError) || len(m.Partitions) != 3 {
			t.Fatalf("topic %s: %d partitions (%v), want 3", m.Name, len(m.Partitions), m.Err)
		}
	}
	for _, c := range []struct{ topic, key, value string }{
		{snapshots, "cleanup.policy", "compact"},
		{topic, "retention.ms", "-1"}, // the system of record is kept forever
	} {
		res, err := admin.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: c.topic, ConfigNames: []string{c.key}}},
			sarama.DescribeConfigsOptions{})
		if err != nil || len(res) != 1 || !errors.Is(res[0].ErrorCode, sarama.ErrNoError) || len(res[0].Configs) != 1 || res[0].Configs[0].Value != c.value {
			t.Fatalf("%s %s: %+v, %v; want %s", c.topic, c.key, res, err, c.value)
		}
	}

	missing := testenv.Name(t, "absent")
	var cfg writeapi.Config
	cfg.RegisterFlags(flagSet())
	cfg.Kafka.Brokers, cfg.Kafka.Topic, cfg.Group, cfg.CreateTopics = []string{brokers}, missing, missing+"_writers", false
	w, err := writeapi.New(cfg, testenv.Logger(t), prometheus.NewRegistry(), tracing.Off().Provider)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	testenv.Eventually(t, 10*time.Second, "write-api saying it waits for the topic", func() bool {
		err := w.Ready()
		return err != nil && strings.Contains(err.Error(), "waiting for topics "+missing)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if meta, err := admin.DescribeTopics([]string{missing}); err == nil && len(meta) == 1 && errors.Is(meta[0].Err, sarama.ErrNoError) {
		t.Fatalf("--create-topics=false created %s", missing)
	}
}

// committedAt is the time an answer's header says its events committed
// (zero if it says none).
func committedAt(t *testing.T, md metadata.MD) time.Time {
	t.Helper()
	v := md.Get(writeapi.CommittedHeader)
	if len(v) == 0 {
		return time.Time{}
	}
	at, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil {
		t.Fatalf("%s %q: %v", writeapi.CommittedHeader, v[0], err)
	}
	return at
}
