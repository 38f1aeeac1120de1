package domain

import "github.com/oklog/ulid/v2"

// messageIndex is a thread's index of its MaxIndexedMessages most recent
// messages, oldest first, deleted ones as tombstones. A writer holds one per
// thread for every thread of its partitions, millions of entries in all, so
// the entries hold no pointers: ids as 16-byte ULIDs, authors as positions in
// a list of the thread's authors. The garbage collector then skips the
// index, however large, instead of scanning it on every cycle.
type messageIndex struct {
	refs  map[ulid.ULID]indexEntry
	order []ulid.ULID
	// authors lists each author once; byAuthor finds its position.
	authors  []string
	byAuthor map[string]uint32
	// evicted is the greatest numeric id evicted.
	evicted uint64
}

type indexEntry struct {
	seq, number uint64
	author      uint32
	deleted     bool
}

// messageRef is an indexed message as the thread uses it.
type messageRef struct {
	author  string
	seq     uint64
	number  uint64
	deleted bool
}

func newMessageIndex() messageIndex {
	return messageIndex{refs: map[ulid.ULID]indexEntry{}, byAuthor: map[string]uint32{}}
}

// indexKey is the ULID of a message id as Falcon writes them (upper case);
// any other string is no indexed message.
func indexKey(id string) (ulid.ULID, bool) {
	if len(id) != ulid.EncodedSize {
		return ulid.ULID{}, false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c >= 'a' && c <= 'z' {
			return ulid.ULID{}, false
		}
	}
	u, err := ulid.ParseStrict(id)
	return u, err == nil
}

func (x *messageIndex) len() int { return len(x.refs) }

func (x *messageIndex) get(id string) (messageRef, bool) {
	k, ok := indexKey(id)
	if !ok {
		return messageRef{}, false
	}
	e, ok := x.refs[k]
	if !ok {
		return messageRef{}, false
	}
	return x.ref(e), true
}

func (x *messageIndex) ref(e indexEntry) messageRef {
	return messageRef{author: x.authors[e.author], seq: e.seq, number: e.number, deleted: e.deleted}
}

// put indexes a message, or updates it if indexed already (each id is in
// order once, or eviction would stop bounding it), and evicts the oldest
// past MaxIndexedMessages. An id that is not a ULID is not indexed (no
// command can name it): put says false.
func (x *messageIndex) put(id string, ref messageRef) bool {
	k, ok := indexKey(id)
	if !ok {
		return false
	}
	e := indexEntry{seq: ref.seq, number: ref.number, author: x.author(ref.author), deleted: ref.deleted}
	if _, ok := x.refs[k]; ok {
		x.refs[k] = e
		return true
	}
	x.refs[k] = e
	x.order = append(x.order, k)
	for len(x.refs) > MaxIndexedMessages {
		oldest := x.order[0]
		x.order = x.order[1:]
		if old, ok := x.refs[oldest]; ok {
			x.evicted = max(x.evicted, old.number)
			delete(x.refs, oldest)
		}
	}
	if len(x.order) > 2*MaxIndexedMessages {
		live := make([]ulid.ULID, 0, len(x.refs))
		for _, k := range x.order {
			if _, ok := x.refs[k]; ok {
				live = append(live, k)
			}
		}
		x.order = live
	}
	return true
}

// markDeleted makes an indexed message a tombstone.
func (x *messageIndex) markDeleted(id string) {
	k, ok := indexKey(id)
	if !ok {
		return
	}
	if e, ok := x.refs[k]; ok {
		e.deleted = true
		x.refs[k] = e
	}
}

// snapshot is the indexed messages, oldest first. A complete snapshot after a
// migration holds hundreds of thousands, so their ids are written into one
// string rather than one each.
func (x *messageIndex) snapshot() []MessageRef {
	out := make([]MessageRef, 0, len(x.refs))
	text := make([]byte, 0, len(x.refs)*ulid.EncodedSize)
	for _, k := range x.order {
		e, ok := x.refs[k]
		if !ok {
			continue
		}
		text = text[:len(text)+ulid.EncodedSize]
		_ = k.MarshalTextTo(text[len(text)-ulid.EncodedSize:]) // cannot fail: the slice is EncodedSize long
		out = append(out, MessageRef{AuthorID: x.authors[e.author], Sequence: e.seq, Number: e.number, Deleted: e.deleted})
	}
	ids := string(text)
	for i := range out {
		out[i].ID = ids[i*ulid.EncodedSize : (i+1)*ulid.EncodedSize]
	}
	return out
}

// author is the position of an author, added if new. Authors are kept for
// the thread's life: they are its members and former members, far fewer
// than its messages.
func (x *messageIndex) author(a string) uint32 {
	if i, ok := x.byAuthor[a]; ok {
		return i
	}
	i := uint32(len(x.authors))
	x.authors = append(x.authors, a)
	x.byAuthor[a] = i
	return i
}
