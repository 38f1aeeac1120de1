// Package readmodel is the read side: the projection that turns thread
// events into rows of the read store, and the queries read-api answers from
// them. Row keys are designed for the queries, as in HBase.
package readmodel

import (
	"encoding/binary"
	"hash/fnv"

	"math"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Tables of the read store.
const (
	// TableThreads: one row per thread id; family d holds the thread's
	// fields, m a column per member, a a column per administrator, h a
	// column per account that ever was a member with its membership spans,
	// r a column per member with its read state.
	TableThreads = "threads"
	// TableMessages: one row per message, keyed thread id + message ULID, so
	// a range scan pages through a thread's history in time order; the
	// message is one cell and its last edit another (messagecell.go).
	TableMessages = "messages"
	// TableAccountThreads: one row per (account, thread), keyed account 0x00
	// inverted last activity + thread id, so "my threads, most recent
	// first" is one forward scan.
	TableAccountThreads = "account_threads"
	// TableNumbers: one row per numeric id of a thread or message, keyed by
	// numberKey, naming the thread (d:thread) and the message (d:message):
	// GET by the legacy system's id.
	TableNumbers = "numbers"
)

// Tables lists every table with its column families, for schema creation.
var Tables = map[string][]string{
	TableThreads:        {"d", "m", "a", "h", "r"},
	TableMessages:       {"d"},
	TableAccountThreads: {"d"},
	TableNumbers:        {"d"},
	TableMeta:           {"d"},
}

// GenerationTables are the tables a generation has (all but TableMeta).
var GenerationTables = []string{TableThreads, TableMessages, TableAccountThreads, TableNumbers}

const (
	colTitle      = "d:title"
	colRemarks    = "d:remarks"
	colCreator    = "d:creator"
	colCreated    = "d:created"
	colLast       = "d:last"
	colCount      = "d:count"
	colVersion    = "d:version"
	colDestroyed  = "d:destroyed"
	colSequence   = "d:seq"     // a thread's last message's, or a message's own
	colDeleted    = "d:deleted" // positions of deleted messages
	colSummary    = "d:summary" // what a list shows of the thread (summary.go)
	memberFamily  = "m:"
	adminFamily   = "a:"
	historyFamily = "h:"
	readFamily    = "r:"

	// A message's columns before the message cells (legacyMessage).
	colSender   = "d:sender"
	colBody     = "d:body"
	colReplyTo  = "d:reply"
	colMentions = "d:mentions"
	colEdited   = "d:edited"

	colThread = "d:thread"

	colNumber        = "d:number"   // a thread's or a message's numeric id
	colReplyToNumber = "d:replynum" // a reply's replied-to message's
	colMessage       = "d:message"  // a numbers row's message
)

// Ids in row keys are ULIDs, of fixed length: a message row's key is its
// thread's id followed by its own.
const (
	threadIDLen   = ulid.EncodedSize
	messageIDLen  = ulid.EncodedSize
	messageKeyLen = threadIDLen + messageIDLen
)

func messageKey(threadID, messageID string) []byte {
	return []byte(threadID + messageID)
}

// appendAccountThreadKey appends the key of threadID's row in account's
// thread list (accountThreadKeyLen bytes), which orders an account's
// threads by last activity, newest first.
func appendAccountThreadKey(k []byte, account string, last time.Time, threadID string) []byte {
	k = append(k, account...)
	k = append(k, 0x00)
	k = binary.BigEndian.AppendUint64(k, math.MaxUint64-uint64(last.UnixNano()))
	return append(k, threadID...)
}

func accountThreadKeyLen(account, threadID string) int { return len(account) + 1 + 8 + len(threadID) }

// numberKey is a numeric id's row: a byte of its hash first, so that ids
// made one after the other (Snowflake ids grow with time) spread over the
// store's regions instead of all landing in the last.
func numberKey(n uint64) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 1, 9), n)
	h := fnv.New32a()
	_, _ = h.Write(k[1:])
	k[0] = byte(h.Sum32())
	return k
}

func accountPrefix(account string) []byte { return append([]byte(account), 0x00) }

func accountPrefixEnd(account string) []byte { return append([]byte(account), 0x01) }

func encTime(t time.Time) []byte {
	if t.IsZero() {
		return nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

func decTime(b []byte) time.Time {
	if len(b) != 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
}

func encUint(v uint64) []byte { return []byte(strconv.FormatUint(v, 10)) }

func decUint(b []byte) uint64 {
	v, _ := strconv.ParseUint(string(b), 10, 64)
	return v
}

// Account ids never contain a comma (domain.ValidateAccountID).
func encList(ids []string) []byte { return []byte(strings.Join(ids, ",")) }

func decList(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), ",")
}
