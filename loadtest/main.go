// Command loadtest drives a running Falcon over gRPC or REST at fixed concurrency
// and reports throughput and latency percentiles. It targets whatever
// address it is given (loopback for benchmarks) and stops by itself.
//
//	loadtest -scenario post -concurrency 64 -duration 20s
//	loadtest -scenario list -concurrency 64 -duration 20s
//	loadtest -scenario post -transport rest -rest-addr 127.0.0.1:8080
//	loadtest -scenario list -arrival-rate 3000 -concurrency 256 -report /tmp/list -server-metrics http://127.0.0.1:9100/metrics
//	loadtest -scenario mix -sweep 1000,2000,4000,8000 -concurrency 512 -report /tmp/sweep
//	loadtest -scenario visibility -concurrency 16 -duration 20s
//	loadtest -scenario drain -metrics-url http://127.0.0.1:8084/metrics -metric falcon_forwarder_delivered_total
//	loadtest -scenario push -subscribers 10000 -members 10 -rate 2000 -metrics-url http://127.0.0.1:9100/metrics
//	loadtest -scenario legacy -legacy-rate 1000 -duration 60s
//	loadtest -scenario watch -metrics-url http://127.0.0.1:8084/metrics -metric process_resident_memory_bytes,falcon_forwarder_lag_events
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

type config struct {
	writeAddr     string
	readAddr      string
	scenario      string
	concurrency   int
	threads       int
	duration      time.Duration
	warmup        time.Duration
	conns         int
	metricsURL    string
	metrics       string
	maxOps        int64
	push          pushConfig
	legacy        legacyConfig
	cpuProfile    string
	extraMembers  int
	transport     string
	restAddr      string
	arrivalRate   float64
	out           string
	reportDir     string
	sweep         string
	serverMetrics string
	sampleEvery   time.Duration
	probes        int
	mix           mixConfig
}

func main() {
	var c config
	flag.StringVar(&c.writeAddr, "write-addr", "127.0.0.1:9090", "gRPC address of ThreadCommandService; several, comma-separated, share the connections")
	flag.StringVar(&c.readAddr, "read-addr", "127.0.0.1:9090", "gRPC address of ThreadQueryService")
	flag.StringVar(&c.scenario, "scenario", "post", "post, list, markread, threads, visibility, mix, push, legacy (writes into the legacy database, for migrate follow), drain, watch, or redraw (the charts of the sweep in -report again)")
	flag.IntVar(&c.concurrency, "concurrency", 64, "concurrent clients")
	flag.IntVar(&c.threads, "threads", 64, "threads the clients spread over")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "measured run time")
	flag.DurationVar(&c.warmup, "warmup", 3*time.Second, "unmeasured run time before it")
	flag.IntVar(&c.conns, "conns", 4, "gRPC connections, shared round-robin by the clients")
	flag.StringVar(&c.transport, "transport", "grpc", "grpc, or rest (HTTP/1.1 keep-alive and JSON, a connection per client, as browsers call)")
	flag.StringVar(&c.restAddr, "rest-addr", "127.0.0.1:8080", "-transport rest: the REST address (falcon dev serves every route on one)")
	flag.Float64Var(&c.arrivalRate, "arrival-rate", 0, "open loop: requests a second, each timed from when it was due (at most -concurrency in flight); 0: closed loop, each client sending when answered")
	flag.StringVar(&c.out, "out", "", "open loop: write the JSON report (the whole run and each second) to this file")
	flag.StringVar(&c.reportDir, "report", "", "open loop and sweep: write report.json, report.html and SVG charts into this directory")
	flag.StringVar(&c.sweep, "sweep", "", "open loop at each of these ascending rates in turn (e.g. 1000,2000,4000), for latency against throughput")
	flag.StringVar(&c.serverMetrics, "server-metrics", "", "open loop: sample the server's CPU and memory from this Prometheus endpoint (falcon dev: http://127.0.0.1:9100/metrics)")
	flag.DurationVar(&c.sampleEvery, "sample-every", time.Second, "-server-metrics: how often")
	flag.StringVar(&c.metricsURL, "metrics-url", "http://127.0.0.1:8084/metrics", "drain and watch: the Prometheus endpoint to read")
	flag.StringVar(&c.metrics, "metric", "falcon_forwarder_delivered_total", "drain: the counter; watch: metrics, comma-separated")
	flag.Int64Var(&c.maxOps, "max-ops", 0, "stop after this many operations, warm-up included, even before -duration ends (0: no limit)")
	flag.IntVar(&c.push.subscribers, "subscribers", 1000, "push: idle stream subscribers, each an account of its own")
	flag.IntVar(&c.push.members, "members", 10, "push: members of each thread (subscribers/members threads)")
	flag.IntVar(&c.push.rate, "rate", 2000, "push: messages posted a second")
	flag.IntVar(&c.extraMembers, "extra-members", 0, "post, list, markread, threads: members each thread has besides its owner and reader (markread: the accounts that mark)")
	flag.IntVar(&c.mix.accounts, "accounts", 1000, "mix: accounts, drawn by Zipf popularity for thread membership and for each request")
	flag.IntVar(&c.mix.members, "mix-members", 8, "mix: members of each thread")
	flag.Float64Var(&c.mix.zipf, "zipf", 1.2, "mix: Zipf exponent of account popularity (> 1; larger is more skewed)")
	flag.Float64Var(&c.mix.reads, "reads", 0.9, "mix: the share of reads (ListThreads, ListMessages); the rest writes (posts, edits, marks)")
	flag.Uint64Var(&c.mix.seed, "seed", 1, "mix: the random seed (the same seed, the same threads and requests per client)")
	flag.IntVar(&c.mix.seedMessages, "seed-messages", 20, "mix: messages posted into each thread before the run")
	flag.IntVar(&c.mix.subscribers, "mix-subscribers", 0, "mix: event streams held open by the most popular accounts during the run (gRPC)")
	flag.IntVar(&c.probes, "visibility-probes", 0, "closed loop: clients that, beside the load, post and read back until visible, reporting post-to-visible latency")
	flag.StringVar(&c.legacy.dsn, "legacy-dsn", "root@tcp(127.0.0.1:23306)/legacy?parseTime=true&loc=UTC&charset=latin1", "legacy: the legacy database")
	flag.IntVar(&c.legacy.rate, "legacy-rate", 1000, "legacy: writes a second (85% new messages, 10% edits, 5% deletions)")
	flag.IntVar(&c.legacy.rooms, "legacy-rooms", 1000, "legacy: rooms written into")
	flag.IntVar(&c.legacy.conns, "legacy-conns", 16, "legacy: connections writing")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write the load generator's own CPU profile to this file (it shares the machine)")
	flag.Parse()
	if err := runProfiled(c); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// runProfiled runs c, under a CPU profile when one is asked for.
func runProfiled(c config) error {
	if c.cpuProfile != "" {
		stop, err := profileCPU(c.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	return run(c)
}

// profileCPU starts a CPU profile written to path; stop ends it.
func profileCPU(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

type clients struct {
	cmd []falconv1.ThreadCommandServiceClient
	qry []falconv1.ThreadQueryServiceClient
}

func dial(c config) (*clients, func(), error) {
	cl := &clients{}
	switch c.transport {
	case "grpc":
	case "rest":
		rc := newRESTClient(c.restAddr, c.concurrency)
		cl.cmd, cl.qry = []falconv1.ThreadCommandServiceClient{rc}, []falconv1.ThreadQueryServiceClient{rc}
		return cl, rc.hc.CloseIdleConnections, nil
	default:
		return nil, nil, fmt.Errorf("-transport %q: want grpc or rest", c.transport)
	}
	var conns []*grpc.ClientConn
	closeAll := func() {
		for _, cc := range conns {
			cc.Close()
		}
	}
	// Several write-api replicas: the connections spread over them.
	writeAddrs := strings.Split(c.writeAddr, ",")
	for i := 0; i < c.conns; i++ {
		w, err := grpc.NewClient(writeAddrs[i%len(writeAddrs)], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		r, err := grpc.NewClient(c.readAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, w, r)
		cl.cmd = append(cl.cmd, falconv1.NewThreadCommandServiceClient(w))
		cl.qry = append(cl.qry, falconv1.NewThreadQueryServiceClient(r))
	}
	return cl, closeAll, nil
}

func as(ctx context.Context, account string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-account-id", account)
}

func run(c config) error {
	switch c.scenario {
	case "drain":
		return drain(c.metricsURL, c.metrics, 3*time.Second, c.duration+10*time.Minute)
	case "watch":
		return watch(c.metricsURL, strings.Split(c.metrics, ","), 5*time.Second, c.duration)
	case "push":
		return push(c, c.push)
	case "legacy":
		return legacyWrites(c, c.legacy)
	case "redraw":
		return redrawSweep(c)
	}
	if c.concurrency < 1 || c.threads < 1 || c.conns < 1 || c.duration <= 0 || c.arrivalRate < 0 {
		return errors.New("-concurrency, -threads, -conns and -duration must be positive, -arrival-rate not negative")
	}
	cl, closeAll, err := dial(c)
	if err != nil {
		return err
	}
	defer closeAll()
	ctx := context.Background()

	if c.scenario == "mix" {
		return runMix(ctx, c, cl)
	}
	threads := make([]string, c.threads)
	if c.scenario == "markread" && c.extraMembers < 1 {
		return errors.New("-scenario markread needs -extra-members: they are the readers")
	}
	members := []string{"loadtest-reader"}
	for r := range c.extraMembers {
		members = append(members, markReader(r))
	}
	for i := range threads {
		resp, err := cl.cmd[0].CreateThread(as(ctx, "loadtest-owner"), &falconv1.CreateThreadRequest{
			Title: fmt.Sprintf("load %d", i), MemberIds: members})
		if err != nil {
			return fmt.Errorf("create thread: %w", err)
		}
		threads[i] = resp.ThreadId
	}
	vis := &samples{}
	var op func(ctx context.Context, worker int, n int) error
	switch c.scenario {
	case "post":
		op = func(ctx context.Context, w, n int) error {
			_, err := cl.cmd[w%len(cl.cmd)].PostMessage(as(ctx, "loadtest-owner"), &falconv1.PostMessageRequest{
				ThreadId: threads[(w+n)%len(threads)], Body: "load test message"})
			return err
		}
	case "list":
		if _, err := seed(ctx, cl, threads, 60); err != nil {
			return err
		}
		op = func(ctx context.Context, w, n int) error {
			resp, err := cl.qry[w%len(cl.qry)].ListMessages(as(ctx, "loadtest-reader"), &falconv1.ListMessagesRequest{
				ThreadId: threads[(w+n)%len(threads)], PageSize: 50, Order: falconv1.MessageOrder_MESSAGE_ORDER_NEWEST_FIRST})
			if err == nil && len(resp.Messages) != 50 {
				err = fmt.Errorf("page of %d messages, want 50", len(resp.Messages))
			}
			return err
		}
	case "visibility":
		// The latency reported is from the post's acknowledgement to the
		// first read that returns the message.
		op = func(ctx context.Context, w, n int) error {
			return probeVisibility(ctx, cl, threads[(w+n)%len(threads)], w, vis)
		}
	case "markread":
		// Worker w reads thread w: each extra member marks the seeded
		// messages in order, so that every MarkRead moves a marker (an
		// event through the single writer, like a post).
		ids, err := seed(ctx, cl, threads, markMessages)
		if err != nil {
			return err
		}
		op = func(ctx context.Context, w, n int) error {
			t := w % len(threads)
			reader := markReader((n / markMessages) % c.extraMembers)
			_, err := cl.cmd[w%len(cl.cmd)].MarkRead(as(ctx, reader), &falconv1.MarkReadRequest{ThreadId: threads[t], MessageId: ids[t][n%markMessages]})
			return err
		}
	case "threads":
		// The reader's thread list with its counts: every other seeded
		// message mentions it.
		if _, err := seed(ctx, cl, threads, 4); err != nil {
			return err
		}
		size := int32(min(len(threads), 50))
		op = func(ctx context.Context, w, n int) error {
			resp, err := cl.qry[w%len(cl.qry)].ListThreads(as(ctx, "loadtest-reader"), &falconv1.ListThreadsRequest{PageSize: size})
			if err == nil && (len(resp.Threads) != int(size) || resp.Threads[0].UnreadCount == 0) {
				err = fmt.Errorf("a list of %d threads, %d unread in the first; want %d threads with unread messages", len(resp.Threads), resp.Threads[0].GetUnreadCount(), size)
			}
			return err
		}
	default:
		return fmt.Errorf("-scenario %q: want post, list, markread, threads or visibility", c.scenario)
	}
	if c.arrivalRate > 0 || c.sweep != "" {
		return runOpen(ctx, c, op, nil)
	}
	fmt.Printf("scenario %s over %s: %d clients over %d threads, %s warm-up, %s measured\n", c.scenario, c.transport, c.concurrency, c.threads, c.warmup, c.duration)
	// Probes measure visibility beside the load (posts, for the target of
	// post-to-visible under the post load).
	pctx, stopProbes := context.WithCancel(ctx)
	var probes sync.WaitGroup
	for p := range c.probes {
		probes.Add(1)
		go func() {
			defer probes.Done()
			for n := p; pctx.Err() == nil; n++ {
				if err := probeVisibility(pctx, cl, threads[n%len(threads)], p, vis); err != nil && pctx.Err() == nil {
					fmt.Println("visibility probe:", err)
					return
				}
			}
		}()
	}
	res := drive(ctx, c, op, vis)
	stopProbes()
	probes.Wait()
	res.print(c.scenario)
	if c.scenario == "visibility" || c.probes > 0 {
		printLatencies("visible after ack", vis.take(), 0)
	}
	return nil
}

// probeVisibility posts into thread t and reads the message back every
// 0.5 ms until read-api has it, recording the time from the
// acknowledgement to the first read that returns it.
func probeVisibility(ctx context.Context, cl *clients, t string, w int, vis *samples) error {
	r, err := cl.cmd[w%len(cl.cmd)].PostMessage(as(ctx, "loadtest-owner"), &falconv1.PostMessageRequest{ThreadId: t, Body: "visible?"})
	if err != nil {
		return err
	}
	start := time.Now()
	for {
		_, err := cl.qry[w%len(cl.qry)].GetMessage(as(ctx, "loadtest-reader"), &falconv1.GetMessageRequest{ThreadId: t, MessageId: r.MessageId})
		if err == nil {
			vis.record(time.Since(start))
			return nil
		}
		if time.Since(start) > 5*time.Second || ctx.Err() != nil {
			return fmt.Errorf("message %s not visible after %s: %w", r.MessageId, time.Since(start).Round(time.Millisecond), err)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// runOpen runs op in an open loop, or a sweep of them, and reports it (by
// kind, with kindOf).
func runOpen(ctx context.Context, c config, op func(context.Context, int, int) error, kindOf func(int) string) error {
	if c.sweep != "" {
		rates, err := parseRates(c.sweep)
		if err != nil {
			return err
		}
		return sweep(ctx, c, op, kindOf, rates)
	}
	fmt.Printf("scenario %s over %s: %.0f requests/s, at most %d in flight, over %d threads, %s warm-up, %s measured\n",
		c.scenario, c.transport, c.arrivalRate, c.concurrency, c.threads, c.warmup, c.duration)
	rep, err := runOnce(ctx, c, op, kindOf)
	if err != nil {
		return err
	}
	rep.print()
	if c.out != "" {
		if err := rep.write(c.out); err != nil {
			return err
		}
	}
	if c.reportDir != "" {
		return rep.writeReport(c.reportDir)
	}
	return nil
}

// runMix runs the chat-shaped mix, open or closed loop, with its streams.
func runMix(ctx context.Context, c config, cl *clients) error {
	ch, err := newChat(ctx, c, cl)
	if err != nil {
		return err
	}
	if c.mix.subscribers > 0 {
		if c.transport != "grpc" {
			return errors.New("-mix-subscribers: the streams are gRPC (-transport grpc)")
		}
		sctx, cancel := context.WithCancel(ctx)
		wg, err := ch.subscribe(sctx, c.mix.subscribers)
		defer func() {
			cancel()
			wg.Wait()
			fmt.Printf("  streams: %d subscribers received %d events\n", c.mix.subscribers, ch.received.Load())
		}()
		if err != nil {
			return err
		}
	}
	if c.arrivalRate > 0 || c.sweep != "" {
		return runOpen(ctx, c, ch.op, ch.kindOf)
	}
	fmt.Printf("scenario mix over %s: %d clients, %s warm-up, %s measured\n", c.transport, c.concurrency, c.warmup, c.duration)
	drive(ctx, c, ch.op, &samples{}).print("mix")
	return nil
}

// markMessages is how many messages the markread scenario seeds in each
// thread, for each extra member to mark in order.
const markMessages = 40

func markReader(r int) string { return fmt.Sprint("loadtest-marker-", r) }

// seed posts n messages into each thread (every other one mentioning
// loadtest-reader), waits until the read model has them, and returns their
// ids per thread.
func seed(ctx context.Context, cl *clients, threads []string, n int) ([][]string, error) {
	fmt.Printf("seeding %d messages into each of %d threads\n", n, len(threads))
	ids := make([][]string, len(threads))
	for i, t := range threads {
		var last uint64
		for k := 0; k < n; k++ {
			req := &falconv1.PostMessageRequest{ThreadId: t, Body: fmt.Sprint("seed ", k)}
			if k%2 == 1 {
				req.MentionAccountIds = []string{"loadtest-reader"}
			}
			r, err := cl.cmd[0].PostMessage(as(ctx, "loadtest-owner"), req)
			if err != nil {
				return nil, fmt.Errorf("seed: %w", err)
			}
			ids[i] = append(ids[i], r.MessageId)
			last = r.Version
		}
		if _, err := cl.qry[0].GetThread(as(ctx, "loadtest-reader"), &falconv1.GetThreadRequest{ThreadId: t, MinVersion: last}); err != nil {
			return nil, fmt.Errorf("wait for seed: %w", err)
		}
	}
	return ids, nil
}

type result struct {
	lat     []time.Duration
	errs    int64
	lastErr error
	elapsed time.Duration
}

// drive runs op from c.concurrency workers for warm-up plus duration and
// keeps the latencies of the measured part.
func drive(ctx context.Context, c config, op func(context.Context, int, int) error, vis *samples) result {
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		mu        sync.Mutex
		res       result
		wg        sync.WaitGroup
		started   atomic.Int64
		reached   = make(chan struct{})
		once      sync.Once
	)
	for w := 0; w < c.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<16)
			var errs int64
			var lastErr error
			for n := 0; !stop.Load(); n++ {
				if c.maxOps > 0 && started.Add(1) > c.maxOps {
					once.Do(func() { close(reached) })
					break
				}
				start := time.Now()
				err := op(ctx, w, n)
				d := time.Since(start)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs++
					lastErr = err
					continue
				}
				local = append(local, d)
			}
			mu.Lock()
			res.lat = append(res.lat, local...)
			res.errs += errs
			if lastErr != nil {
				res.lastErr = lastErr
			}
			mu.Unlock()
		}()
	}
	time.Sleep(c.warmup)
	vis.take()
	measuring.Store(true)
	start := time.Now()
	select {
	case <-time.After(c.duration):
	case <-reached:
	}
	measuring.Store(false)
	res.elapsed = time.Since(start)
	stop.Store(true)
	wg.Wait()
	return res
}

func (r result) print(what string) {
	printLatencies(what, r.lat, r.elapsed)
	if r.errs > 0 {
		fmt.Printf("  errors: %d (last: %v)\n", r.errs, r.lastErr)
	}
}

func printLatencies(what string, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		fmt.Printf("%s: no successful operations\n", what)
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return quantile(lat, p) }
	rate := ""
	if elapsed > 0 {
		rate = fmt.Sprintf(", %.0f/s", float64(len(lat))/elapsed.Seconds())
	}
	fmt.Printf("%s: %d ok%s; latency p25 %s, p50 %s, p75 %s, p90 %s, p99 %s, max %s\n", what, len(lat), rate,
		pct(0.25).Round(10*time.Microsecond), pct(0.50).Round(10*time.Microsecond), pct(0.75).Round(10*time.Microsecond),
		pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

// quantile is the p-quantile of sorted latencies (0 for none).
func quantile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// samples collects post-to-visible latencies from the workers.
type samples struct {
	mu  sync.Mutex
	lat []time.Duration
}

func (s *samples) record(d time.Duration) {
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.mu.Unlock()
}

func (s *samples) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.lat
	s.lat = nil
	return out
}
