package domain

// Result is what a command answers.
type Result struct {
	Version uint64
	// MessageID is set by PostMessage.
	MessageID string
	// Replayed says the request id was seen before: this is the first
	// answer again and nothing new was appended.
	Replayed bool
}

type requestEntry struct {
	id      string
	command string
	result  Result
}

// requestLog remembers the last RecentRequests request ids of a thread, in a
// ring so its memory is fixed.
type requestLog struct {
	ring  []requestEntry
	next  int
	index map[string]int
}

func (l *requestLog) remember(id, command string, r Result) {
	if id == "" {
		return
	}
	if l.index == nil {
		l.index = map[string]int{}
	}
	if _, ok := l.index[id]; ok {
		return
	}
	e := requestEntry{id: id, command: command, result: r}
	if len(l.ring) < RecentRequests {
		l.index[id] = len(l.ring)
		l.ring = append(l.ring, e)
		return
	}
	delete(l.index, l.ring[l.next].id)
	l.ring[l.next] = e
	l.index[id] = l.next
	l.next = (l.next + 1) % RecentRequests
}

func (l *requestLog) lookup(id string) (requestEntry, bool) {
	i, ok := l.index[id]
	if !ok {
		return requestEntry{}, false
	}
	return l.ring[i], true
}
