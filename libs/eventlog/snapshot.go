package eventlog

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/domain"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// SnapshotSchemaVersion is the version of ThreadSnapshot this build writes
// and reads. A field whose meaning changes bumps it; readers then replay.
//
// Version 2 remembers requests per account, with their hash: a version-1
// snapshot does not say whose a request was, so it is not read, and the
// partition is replayed from its events (which always had the actor).
// Version 3 adds message sequences and read markers, which a version-2
// snapshot lacks: it is replayed too.
const SnapshotSchemaVersion = 3

// CheckpointKey is the key of SnapshotCheckpoint records; thread ids (ULIDs)
// never start with a zero byte.
const CheckpointKey = "\x00checkpoint"

// SealKey is the key of the record of the aborted transaction a new owner
// writes to each partition it takes over (it is never read: consumers skip
// aborted records).
const SealKey = "\x00seal"

// ErrSnapshotVersion is a snapshot of a schema version this build does not
// read.
var ErrSnapshotVersion = errors.New("snapshot schema version not supported")

// SnapshotsTopic is the name of the snapshots topic for an events topic.
func SnapshotsTopic(events string) string { return events + ".snapshots" }

// EncodeSnapshot turns a thread's snapshot into a record value.
func EncodeSnapshot(s domain.Snapshot) ([]byte, error) {
	m := &falconv1.ThreadSnapshot{
		SchemaVersion: SnapshotSchemaVersion, ThreadId: s.ID, Version: s.Version, Title: s.Title, Remarks: s.Remarks,
		CreatorId: s.CreatorID, CreatedAt: timestamppb.New(s.CreatedAt), Destroyed: s.Destroyed,
		MemberIds: s.Members, AdministratorIds: s.Administrators, LastSequence: s.LastSequence,
		ThreadNumber: s.Number, LastNumber: s.LastNumber, EvictedNumber: s.Evicted,
	}
	for _, r := range s.ReadMarkers {
		m.ReadMarkers = append(m.ReadMarkers, &falconv1.ReadMarker{AccountId: r.AccountID, Position: r.Position})
	}
	for _, r := range s.Requests {
		m.Requests = append(m.Requests, &falconv1.RememberedRequest{RequestId: r.ID, Command: r.Command, Version: r.Version, MessageId: r.MessageID,
			AccountId: r.AccountID, RequestHash: r.Hash, Number: r.Number})
	}
	b, err := proto.MarshalOptions{}.MarshalAppend(make([]byte, 0, proto.Size(m)+len(s.Messages)*indexedMessageSize), m)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot of thread %s: %w", s.ID, err)
	}
	// The messages, up to MaxIndexedMessages, are most of a snapshot: they
	// are appended by hand (a field may come in any order, and a repeated
	// one in pieces) rather than made into a message each first.
	for _, msg := range s.Messages {
		b = appendIndexedMessage(b, msg)
	}
	return b, nil
}

// Field numbers of ThreadSnapshot.messages and of IndexedMessage, encoded
// by hand.
const (
	fieldSnapshotMessages protowire.Number = 11
	fieldMessageID        protowire.Number = 1
	fieldMessageAuthor    protowire.Number = 2
	fieldMessageSequence  protowire.Number = 3
	fieldMessageNumber    protowire.Number = 4
	fieldMessageDeleted   protowire.Number = 5
)

// indexedMessageSize is about what an indexed message takes encoded: a
// ULID, a short author, two varints.
const indexedMessageSize = 56

// appendIndexedMessage appends msg as ThreadSnapshot.messages, leaving out
// zero fields as proto3 does.
func appendIndexedMessage(b []byte, msg domain.MessageRef) []byte {
	size := wire{sizing: true}
	indexedMessageFields(&size, msg)
	w := wire{b: b}
	w.header(fieldSnapshotMessages, size.n)
	indexedMessageFields(&w, msg)
	return w.b
}

func indexedMessageFields(w *wire, msg domain.MessageRef) {
	w.str(fieldMessageID, msg.ID)
	w.str(fieldMessageAuthor, msg.AuthorID)
	w.uvarint(fieldMessageSequence, msg.Sequence)
	w.uvarint(fieldMessageNumber, msg.Number)
	if msg.Deleted {
		w.uvarint(fieldMessageDeleted, 1)
	}
}

// DecodeSnapshot reads a record value written by EncodeSnapshot.
func DecodeSnapshot(b []byte) (domain.Snapshot, error) {
	var m falconv1.ThreadSnapshot
	if err := proto.Unmarshal(b, &m); err != nil {
		return domain.Snapshot{}, fmt.Errorf("decode thread snapshot: %w", err)
	}
	if m.GetSchemaVersion() != SnapshotSchemaVersion {
		return domain.Snapshot{}, fmt.Errorf("%w: %d (this build reads %d)", ErrSnapshotVersion, m.GetSchemaVersion(), SnapshotSchemaVersion)
	}
	s := domain.Snapshot{
		ID: m.GetThreadId(), Version: m.GetVersion(), Title: m.GetTitle(), Remarks: m.GetRemarks(), CreatorID: m.GetCreatorId(),
		CreatedAt: m.GetCreatedAt().AsTime(), Destroyed: m.GetDestroyed(), Members: m.GetMemberIds(), Administrators: m.GetAdministratorIds(),
		LastSequence: m.GetLastSequence(), Number: m.GetThreadNumber(), LastNumber: m.GetLastNumber(),
		Evicted: m.GetEvictedNumber(),
	}
	for _, msg := range m.GetMessages() {
		s.Messages = append(s.Messages, domain.MessageRef{ID: msg.GetMessageId(), AuthorID: msg.GetAuthorId(), Sequence: msg.GetSequence(),
			Number: msg.GetMessageNumber(), Deleted: msg.GetDeleted()})
	}
	for _, r := range m.GetReadMarkers() {
		s.ReadMarkers = append(s.ReadMarkers, domain.ReadMarkerRef{AccountID: r.GetAccountId(), Position: r.GetPosition()})
	}
	for _, r := range m.GetRequests() {
		s.Requests = append(s.Requests, domain.RequestRef{ID: r.GetRequestId(), AccountID: r.GetAccountId(), Command: r.GetCommand(),
			Hash: r.GetRequestHash(), Version: r.GetVersion(), MessageID: r.GetMessageId(), Number: r.GetNumber()})
	}
	return s, nil
}

// Checkpoint says where a new owner starts: it reads the snapshots
// partition from FullFrom and replays the events partition from NextOffset.
type Checkpoint struct {
	NextOffset int64
	FullFrom   int64
}

// EncodeCheckpoint and DecodeCheckpoint are the codec of checkpoint records.
func EncodeCheckpoint(c Checkpoint) ([]byte, error) {
	return proto.Marshal(&falconv1.SnapshotCheckpoint{SchemaVersion: SnapshotSchemaVersion, NextOffset: c.NextOffset, FullFrom: c.FullFrom})
}

// DecodeCheckpoint reads a checkpoint record value.
func DecodeCheckpoint(b []byte) (Checkpoint, error) {
	var m falconv1.SnapshotCheckpoint
	if err := proto.Unmarshal(b, &m); err != nil {
		return Checkpoint{}, fmt.Errorf("decode snapshot checkpoint: %w", err)
	}
	if m.GetSchemaVersion() != SnapshotSchemaVersion {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint version %d", ErrSnapshotVersion, m.GetSchemaVersion())
	}
	return Checkpoint{NextOffset: m.GetNextOffset(), FullFrom: m.GetFullFrom()}, nil
}
