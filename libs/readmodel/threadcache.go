package readmodel

import (
	"context"
	"fmt"
	"sync"
)

// CachedThreads is how many threads a projector keeps in memory as it last
// wrote them.
const CachedThreads = 4096

// threadCache holds the thread rows a projector wrote, so that the next
// batch of a busy thread does not read its row back: reading a row walks
// every older version of its cells still in the store's memtable (a
// thread's count, last activity and version change with every message),
// which took a third of falcon dev's CPU at 2,000 posts/s. A cached thread
// is used only while its stored version is the one cached (one cell read):
// a row another updater wrote since (the partition moved away and back)
// is read again.
type threadCache struct {
	mu      sync.Mutex
	threads map[string]*Thread
}

func newThreadCache() *threadCache { return &threadCache{threads: map[string]*Thread{}} }

// put keeps t (which the caller no longer changes), evicting an arbitrary
// thread when full.
func (c *threadCache) put(t *Thread) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.threads[t.ID]; !ok && len(c.threads) >= CachedThreads {
		for id := range c.threads {
			delete(c.threads, id)
			break
		}
	}
	c.threads[t.ID] = t
}

func (c *threadCache) get(id string) *Thread {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.threads[id]
}

func (c *threadCache) drop(ids [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		delete(c.threads, string(id))
	}
}

// Reset forgets every cached thread.
func (c *threadCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.threads)
}

// load returns the threads ids name as stored: from the cache where the
// stored version is the cached one, from their rows otherwise. exists is
// false for a thread without a row.
func (p *Projector) load(ctx context.Context, ids [][]byte) (map[string]*threadChange, error) {
	out := make(map[string]*threadChange, len(ids))
	var cachedIDs, read [][]byte
	var cached []*Thread
	for _, id := range ids {
		if t := p.cache.get(string(id)); t != nil {
			cachedIDs, cached = append(cachedIDs, id), append(cached, t)
		} else {
			read = append(read, id)
		}
	}
	if len(cached) > 0 {
		versions, err := p.store.GetMulti(ctx, TableThreads, cachedIDs, colVersion)
		if err != nil {
			return nil, fmt.Errorf("read the versions of %d thread rows: %w", len(cached), err)
		}
		for i, r := range versions { // in the order asked
			t := cached[i]
			if decUint(r.Value(colVersion)) != t.Version {
				read = append(read, r.Key)
				continue
			}
			out[t.ID] = &threadChange{before: *t, exists: true}
		}
	}
	if len(read) > 0 {
		rows, err := p.store.GetMulti(ctx, TableThreads, read)
		if err != nil {
			return nil, fmt.Errorf("read %d thread rows: %w", len(read), err)
		}
		for _, r := range rows {
			c := &threadChange{exists: r.Cells != nil}
			if c.exists {
				c.before = threadFromRow(r)
			} else {
				c.before = Thread{ID: string(r.Key)}
			}
			out[string(r.Key)] = c
		}
	}
	return out, nil
}

// remember caches the threads of a batch the store now holds as after says.
func (p *Projector) remember(changes map[string]*threadChange) {
	for _, c := range changes {
		if !c.exists && c.after.Version == 0 {
			continue // no row: nothing to remember
		}
		t := c.after
		t.historyChanged, t.readsChanged = nil, nil
		p.cache.put(&t)
	}
}
