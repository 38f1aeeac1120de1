// Package ratelimit keeps token buckets per key (an account, a client
// address): one key's flood does not spend another's budget.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Budget is a sustained rate and the burst above it.
type Budget struct {
	PerSecond float64
	Burst     int
}

// Buckets holds a bucket per key, all with one budget. Buckets idle long
// enough to be full again are dropped, so keys come and go without memory
// growing: a dropped bucket and a new one behave the same.
type Buckets struct {
	budget Budget
	// idle is how long a bucket takes to fill from empty.
	idle time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns buckets with budget b.
func New(b Budget) *Buckets {
	idle := time.Minute
	if b.PerSecond > 0 {
		idle = max(time.Duration(float64(b.Burst)/b.PerSecond*float64(time.Second)), time.Second)
	}
	return &Buckets{budget: b, idle: idle, buckets: map[string]*bucket{}}
}

// Take spends a token of key's bucket at now. It reports whether one was
// there and, if not, how long until one will be.
func (b *Buckets) Take(key string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastSweep) > b.idle {
		for k, bk := range b.buckets {
			if now.Sub(bk.seen) > b.idle {
				delete(b.buckets, k)
			}
		}
		b.lastSweep = now
	}
	bk, ok := b.buckets[key]
	if !ok {
		bk = &bucket{lim: rate.NewLimiter(rate.Limit(b.budget.PerSecond), b.budget.Burst)}
		b.buckets[key] = bk
	}
	bk.seen = now
	r := bk.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, b.idle
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return false, wait
	}
	return true, 0
}

// Len is how many buckets are held.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buckets)
}

// AddressKey is the key of a client address: the address itself for IPv4,
// its /64 network for IPv6 (one host usually has a whole /64 to draw
// addresses from). Unparsable addresses share one key.
func AddressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		if ap, err := netip.ParseAddrPort(addr); err == nil {
			ip = ap.Addr()
		} else {
			return "unknown"
		}
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}
