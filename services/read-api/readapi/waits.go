package readapi

import (
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// MaxWaitsPerAccount bounds the queries of one account waiting for
// min_version at a time: a wait holds a goroutine for up to MinVersionWait,
// and no caller may hold many.
const MaxWaitsPerAccount = 8

// waitLimit counts each account's waiting queries.
type waitLimit struct {
	mu      sync.Mutex
	waiting map[string]int
}

// take admits one more wait of account, or refuses it with
// ResourceExhausted; release gives the place back.
func (w *waitLimit) take(account string) (release func(), err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == nil {
		w.waiting = map[string]int{}
	}
	if w.waiting[account] >= MaxWaitsPerAccount {
		return nil, status.Errorf(codes.ResourceExhausted,
			"account %s already has %d queries waiting for min_version; wait for their answers", account, MaxWaitsPerAccount)
	}
	w.waiting[account]++
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.waiting[account]--; w.waiting[account] == 0 {
			delete(w.waiting, account)
		}
	}, nil
}
