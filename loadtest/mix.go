package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// mixConfig shapes the chat-like mix: accounts and threads of Zipf
// popularity, mostly reads.
type mixConfig struct {
	accounts     int
	members      int
	zipf         float64
	reads        float64
	seed         uint64
	seedMessages int
	subscribers  int
}

// The shares of each kind of request within reads and within writes.
const (
	mixListThreadsShare = 0.4 // of reads; the rest page a thread's history
	mixPostShare        = 0.7 // of writes; then edits, then marks
	mixEditShare        = 0.15
)

// chat is the state the mix works on: who is in which thread, the last
// message of each thread, the messages each account posted.
type chat struct {
	c        mixConfig
	cl       *clients
	threads  []string
	members  [][]string
	ofAcct   [][]int // thread indexes per account index
	last     []atomic.Value
	mu       sync.Mutex
	posted   map[int][][2]string // account index -> (thread, message) it posted, latest last
	rngs     []*rand.Rand
	zipfs    []*rand.Zipf
	kinds    []string // the kind of request each worker made last
	received atomic.Int64
}

func mixAccount(i int) string { return fmt.Sprint("mix-", i) }

// newChat creates the threads: each thread's members are drawn by account
// popularity (Zipf), so popular accounts are in many threads; then seeds
// each with messages.
func newChat(ctx context.Context, c config, cl *clients) (*chat, error) {
	m := c.mix
	if m.accounts < 2 || m.members < 2 || m.members > m.accounts || m.zipf <= 1 || m.reads < 0 || m.reads > 1 {
		return nil, errors.New("-scenario mix needs -accounts >= -mix-members >= 2, -zipf > 1 and -reads within [0, 1]")
	}
	ch := &chat{c: m, cl: cl, threads: make([]string, c.threads), members: make([][]string, c.threads),
		ofAcct: make([][]int, m.accounts), last: make([]atomic.Value, c.threads), posted: map[int][][2]string{}}
	setup := rand.New(rand.NewPCG(m.seed, 0))
	pick := rand.NewZipf(setup, m.zipf, 1, uint64(m.accounts-1))
	fmt.Printf("mix: %d accounts, %d threads of %d members, %d messages seeded in each\n", m.accounts, c.threads, m.members, m.seedMessages)
	for t := range ch.threads {
		var idx []int
		for len(idx) < m.members {
			if a := int(pick.Uint64()); !slices.Contains(idx, a) {
				idx = append(idx, a)
			}
		}
		for _, a := range idx {
			ch.members[t] = append(ch.members[t], mixAccount(a))
			ch.ofAcct[a] = append(ch.ofAcct[a], t)
		}
		resp, err := cl.cmd[0].CreateThread(as(ctx, ch.members[t][0]), &falconv1.CreateThreadRequest{
			Title: fmt.Sprint("mix ", t), MemberIds: ch.members[t][1:]})
		if err != nil {
			return nil, fmt.Errorf("create thread: %w", err)
		}
		ch.threads[t] = resp.ThreadId
		var version uint64
		for k := range m.seedMessages {
			r, err := cl.cmd[0].PostMessage(as(ctx, ch.members[t][k%len(ch.members[t])]), &falconv1.PostMessageRequest{ThreadId: resp.ThreadId, Body: fmt.Sprint("seed ", k)})
			if err != nil {
				return nil, fmt.Errorf("seed: %w", err)
			}
			ch.last[t].Store(r.MessageId)
			version = r.Version
		}
		if _, err := cl.qry[0].GetThread(as(ctx, ch.members[t][0]), &falconv1.GetThreadRequest{ThreadId: resp.ThreadId, MinVersion: version}); err != nil {
			return nil, fmt.Errorf("wait for seed: %w", err)
		}
	}
	for w := range c.concurrency {
		r := rand.New(rand.NewPCG(m.seed, uint64(w)+1))
		ch.rngs = append(ch.rngs, r)
		ch.zipfs = append(ch.zipfs, rand.NewZipf(r, m.zipf, 1, uint64(m.accounts-1)))
	}
	ch.kinds = make([]string, c.concurrency)
	return ch, nil
}

// op is one request of worker w: an account drawn by popularity among
// those in a thread, then a read or a write of it.
func (ch *chat) op(ctx context.Context, w, _ int) error {
	r := ch.rngs[w]
	a := int(ch.zipfs[w].Uint64())
	for len(ch.ofAcct[a]) == 0 { // in no thread: the next account that is
		a = (a + 1) % len(ch.ofAcct)
	}
	ts := ch.ofAcct[a]
	t := ts[r.IntN(len(ts))]
	actx := as(ctx, mixAccount(a))
	cmd, qry := ch.cl.cmd[w%len(ch.cl.cmd)], ch.cl.qry[w%len(ch.cl.qry)]
	if r.Float64() < ch.c.reads {
		if r.Float64() < mixListThreadsShare {
			ch.kinds[w] = "ListThreads"
			_, err := qry.ListThreads(actx, &falconv1.ListThreadsRequest{PageSize: 20})
			return err
		}
		ch.kinds[w] = "ListMessages"
		_, err := qry.ListMessages(actx, &falconv1.ListMessagesRequest{ThreadId: ch.threads[t], PageSize: 50, Order: falconv1.MessageOrder_MESSAGE_ORDER_NEWEST_FIRST})
		return err
	}
	switch x := r.Float64(); {
	case x < mixPostShare:
		ch.kinds[w] = "PostMessage"
		resp, err := cmd.PostMessage(actx, &falconv1.PostMessageRequest{ThreadId: ch.threads[t], Body: "a message of ordinary length"})
		if err == nil {
			ch.last[t].Store(resp.MessageId)
			ch.mu.Lock()
			ch.posted[a] = append(ch.posted[a], [2]string{ch.threads[t], resp.MessageId})
			if p := ch.posted[a]; len(p) > 8 { // the latest few are enough to edit
				ch.posted[a] = p[len(p)-8:]
			}
			ch.mu.Unlock()
		}
		return err
	case x < mixPostShare+mixEditShare:
		ch.mu.Lock()
		p := ch.posted[a]
		ch.mu.Unlock()
		if len(p) == 0 {
			break // nothing of its own to edit yet: it marks instead
		}
		m := p[r.IntN(len(p))]
		ch.kinds[w] = "EditMessage"
		_, err := cmd.EditMessage(actx, &falconv1.EditMessageRequest{ThreadId: m[0], MessageId: m[1], Body: "an edited message"})
		return err
	}
	id, _ := ch.last[t].Load().(string)
	ch.kinds[w] = "MarkRead"
	_, err := cmd.MarkRead(actx, &falconv1.MarkReadRequest{ThreadId: ch.threads[t], MessageId: id})
	return err
}

// kindOf is the kind of request worker w made last (called by the worker
// itself, after op).
func (ch *chat) kindOf(w int) string { return ch.kinds[w] }

// subscribe keeps the event streams of the n most popular accounts open
// until ctx ends, counting what they receive (gRPC only).
func (ch *chat) subscribe(ctx context.Context, n int) (*sync.WaitGroup, error) {
	var wg sync.WaitGroup
	for i := range min(n, len(ch.ofAcct)) {
		st, err := ch.cl.qry[i%len(ch.cl.qry)].Subscribe(as(ctx, mixAccount(i)), &falconv1.SubscribeRequest{})
		if err != nil {
			return &wg, fmt.Errorf("subscribe: %w", err)
		}
		wg.Add(1)
		go func(st grpc.ServerStreamingClient[falconv1.AccountEvent]) {
			defer wg.Done()
			for {
				if _, err := st.Recv(); err != nil {
					if !errors.Is(err, io.EOF) && ctx.Err() == nil {
						fmt.Println("mix: a stream ended:", err)
					}
					return
				}
				ch.received.Add(1)
			}
		}(st)
	}
	return &wg, nil
}
