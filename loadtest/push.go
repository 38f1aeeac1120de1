package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// pushConfig is the push scenario: idle subscribers held while messages
// are posted at a fixed rate into threads of a few members each.
type pushConfig struct {
	subscribers int
	members     int
	rate        int
}

// streamsPerConn keeps each connection under the server's stream limit
// per connection (256 by default).
const streamsPerConn = 200

// push subscribes c.subscribers accounts (member-sized groups share a
// thread), posts at p.rate messages/s for c.duration (open loop: a post
// starts on its schedule whatever the others do), and reports the push
// latency to each event's arrival at a subscriber from its commit (when it
// began, as write-api's answer gives it) and from its decision (occurred_at, before
// the transaction), and the read side's memory per idle subscriber from its
// metrics.
func push(c config, p pushConfig) error {
	if p.subscribers < p.members || p.members < 1 || p.rate < 1 {
		return errors.New("-subscribers must be at least -members, both positive, and -rate positive")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, closeAll, err := dial(c)
	if err != nil {
		return err
	}
	defer closeAll()

	threads := make([]string, p.subscribers/p.members)
	for i := range threads {
		var members []string
		for m := 1; m < p.members; m++ {
			members = append(members, subscriber(i*p.members+m))
		}
		resp, err := cl.cmd[0].CreateThread(as(ctx, subscriber(i*p.members)), &falconv1.CreateThreadRequest{
			Title: fmt.Sprintf("push %d", i), MemberIds: members})
		if err != nil {
			return fmt.Errorf("create thread: %w", err)
		}
		threads[i] = resp.ThreadId
	}

	before, err := scrape(c.metricsURL, "process_resident_memory_bytes", "go_goroutines")
	if err != nil {
		fmt.Printf("no memory figures: %v\n", err)
	}
	var (
		conns    []*grpc.ClientConn
		lat      = &samples{}
		seconds  = &perSecond{}
		commits  = newCommits()
		received atomic.Int64
		measure  atomic.Bool
		failures atomic.Int64
		lastErr  atomic.Value
		ready    sync.WaitGroup
		done     sync.WaitGroup
	)
	defer func() {
		for _, cc := range conns {
			cc.Close()
		}
	}()
	index := make(map[string]int32, len(threads))
	for i, id := range threads {
		index[id] = int32(i)
	}
	codec := newArrivalCodec(index)
	for i := 0; i < p.subscribers; i++ {
		if i%streamsPerConn == 0 {
			cc, err := grpc.NewClient(c.readAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return err
			}
			conns = append(conns, cc)
		}
		q := falconv1.NewThreadQueryServiceClient(conns[len(conns)-1])
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			st, err := q.Subscribe(as(ctx, subscriber(i)), &falconv1.SubscribeRequest{}, grpc.ForceCodecV2(codec))
			if err == nil {
				_, err = st.Header()
			}
			ready.Done()
			if err != nil {
				failures.Add(1)
				lastErr.Store(err)
				return
			}
			var ev arrival
			for {
				if err := st.RecvMsg(&ev); err != nil {
					if ctx.Err() == nil && !errors.Is(err, io.EOF) {
						failures.Add(1)
						lastErr.Store(err)
					}
					return
				}
				if ev.typ != "MessagePosted" || !measure.Load() {
					continue
				}
				received.Add(1)
				now := time.Now()
				d := now.Sub(ev.occurred)
				lat.record(d)
				seconds.record(ev.occurred, d)
				commits.arrived(eventKey{ev.thread, ev.version}, now)
			}
		}()
	}
	ready.Wait()
	if n := failures.Load(); n > 0 {
		return fmt.Errorf("%d of %d subscriptions failed; last: %v", n, p.subscribers, lastErr.Load())
	}
	fmt.Printf("scenario push: %d subscribers held over %d connections, %d threads of %d members, %d posts/s for %s\n",
		p.subscribers, len(conns), len(threads), p.members, p.rate, c.duration)
	time.Sleep(2 * time.Second) // let the server settle before measuring its memory
	if after, err := scrape(c.metricsURL, "process_resident_memory_bytes", "go_goroutines"); err == nil && before != nil {
		rss := after["process_resident_memory_bytes"] - before["process_resident_memory_bytes"]
		fmt.Printf("  server memory with the subscribers idle: RSS +%.1f MiB, %.1f KB per subscriber; goroutines +%.0f\n",
			rss/(1<<20), rss/1024/float64(p.subscribers), after["go_goroutines"]-before["go_goroutines"])
	}

	acks, ackSeconds, commitSeconds := &samples{}, &perSecond{}, &perSecond{}
	seconds.start(time.Now().Add(c.warmup))
	ackSeconds.start(time.Now().Add(c.warmup))
	commitSeconds.start(time.Now().Add(c.warmup))
	posted, postErrs := postAtRate(ctx, cl, threads, p, c.warmup, c.duration, &measure, acks, ackSeconds, commits)
	time.Sleep(time.Second) // the last pushes
	measure.Store(false)
	got := lat.take()
	fromCommit, unmatched := commits.latencies(commitSeconds)
	fmt.Printf("  posted %d in the measured part (%.0f/s), %d errors; %d pushes received (%d expected)\n",
		posted, float64(posted)/c.duration.Seconds(), postErrs, received.Load(), posted*int64(p.members))
	printLatencies("post acknowledged", acks.take(), 0)
	printLatencies("push latency (commit to arrival)", fromCommit, 0)
	if unmatched > 0 {
		fmt.Printf("  %d pushes had no commit time (their post's answer lacked %s, or failed)\n", unmatched, committedHeader)
	}
	printLatencies("push latency (decision to arrival)", got, 0)
	commitSeconds.print("push latency from commit by second of commit")
	seconds.print("push latency from decision by second of decision")
	ackSeconds.print("post acknowledged by second sent")
	if n := failures.Load(); n > 0 {
		fmt.Printf("  streams that failed: %d (last: %v)\n", n, lastErr.Load())
	}
	cancel()
	done.Wait()
	return nil
}

func subscriber(i int) string { return fmt.Sprintf("push-%d", i) }

// postAtRate posts p.rate messages a second, each by a member of its
// thread, for warm-up plus measured time; measure is on for the measured
// part. It returns the posts acknowledged while measuring, with their
// latencies in acks and by the second each was sent in bySecond, and the
// errors.
func postAtRate(ctx context.Context, cl *clients, threads []string, p pushConfig, warmup, measured time.Duration,
	measure *atomic.Bool, acks *samples, bySecond *perSecond, commits *commits) (int64, int64) {
	var posted, errs atomic.Int64
	interval := time.Second / time.Duration(p.rate)
	start := time.Now()
	end := start.Add(warmup + measured)
	sem := make(chan struct{}, 512) // posts in flight at most
	var wg sync.WaitGroup
	for n := 0; ; n++ {
		at := start.Add(time.Duration(n) * interval)
		if at.After(end) {
			break
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		if !measure.Load() && time.Since(start) >= warmup {
			measure.Store(true)
		}
		counted := measure.Load()
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t := n % len(threads)
			sent := time.Now()
			var header metadata.MD
			resp, err := cl.cmd[n%len(cl.cmd)].PostMessage(as(ctx, subscriber(t*p.members+n%p.members)),
				&falconv1.PostMessageRequest{ThreadId: threads[t], Body: "push"}, grpc.Header(&header))
			if err == nil {
				commits.committed(eventKey{int32(t), resp.Version}, header)
			}
			switch {
			case err != nil:
				errs.Add(1)
			case counted:
				posted.Add(1)
				d := time.Since(sent)
				acks.record(d)
				bySecond.record(sent, d)
			}
		}()
	}
	wg.Wait()
	return posted.Load(), errs.Load()
}

// committedHeader is write-api's answer header that says when the commit
// of a command's events began (RFC 3339): no reader saw them before.
const committedHeader = "falcon-committed-at"

// eventKey names an event: its thread's position among the scenario's
// threads and the thread's version after it.
type eventKey struct {
	thread  int32
	version uint64
}

// commits pairs each post's commit time with its pushes' arrivals. A push
// can arrive before the post's answer, so they are matched after the run.
// Times are kept as Unix nanoseconds: with no pointers in them, the
// generator's collector does not scan the hundreds of thousands of
// entries a run keeps.
type commits struct {
	mu       sync.Mutex
	at       map[eventKey]int64
	arrivals []arrived
}

type arrived struct {
	key eventKey
	at  int64
}

func newCommits() *commits { return &commits{at: map[eventKey]int64{}} }

// committed keeps the commit time a post's answer header gives, if any.
func (c *commits) committed(k eventKey, header metadata.MD) {
	v := header.Get(committedHeader)
	if len(v) == 0 {
		return
	}
	at, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil {
		return
	}
	c.mu.Lock()
	c.at[k] = at.UnixNano()
	c.mu.Unlock()
}

func (c *commits) arrived(k eventKey, at time.Time) {
	c.mu.Lock()
	c.arrivals = append(c.arrivals, arrived{k, at.UnixNano()})
	c.mu.Unlock()
}

// latencies returns the time from commit to arrival of every arrival whose
// commit is known (recorded by second of commit in by too), and how many
// arrivals had none.
func (c *commits) latencies(by *perSecond) ([]time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Duration, 0, len(c.arrivals))
	unmatched := 0
	for _, a := range c.arrivals {
		at, ok := c.at[a.key]
		if !ok {
			unmatched++
			continue
		}
		d := time.Duration(a.at - at)
		out = append(out, d)
		by.record(time.Unix(0, at), d)
	}
	return out, unmatched
}

// perSecond keeps push latencies by the second of the event's decision, so
// a run shows whether its tail is spread evenly or comes in bursts (a
// garbage collection, a store flush).
type perSecond struct {
	mu   sync.Mutex
	from time.Time // zero until start
	by   [][]time.Duration
}

func (s *perSecond) start(t time.Time) {
	s.mu.Lock()
	s.from = t
	s.mu.Unlock()
}

func (s *perSecond) record(at time.Time, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.from.IsZero() || at.Before(s.from) {
		return
	}
	i := int(at.Sub(s.from) / time.Second)
	for len(s.by) <= i {
		s.by = append(s.by, nil)
	}
	s.by[i] = append(s.by[i], d)
}

// secondStats is one second's push latencies: which second since start,
// how many, p50, p99, max.
type secondStats struct {
	second, events int
	p50, p99, max  time.Duration
}

// seconds summarises each second that had events, in order.
func (s *perSecond) seconds() []secondStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []secondStats
	for i, lat := range s.by {
		if len(lat) == 0 {
			continue
		}
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		out = append(out, secondStats{second: i, events: len(lat), p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: lat[len(lat)-1]})
	}
	return out
}

func (s *perSecond) print(what string) {
	fmt.Printf("%s, from %s (second: events p50/p99/max ms):", what, s.from.Format("15:04:05.000"))
	for _, c := range s.seconds() {
		fmt.Printf(" %d: %d %d/%d/%d;", c.second, c.events, c.p50.Milliseconds(), c.p99.Milliseconds(), c.max.Milliseconds())
	}
	fmt.Println()
}
