package domain

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// MaxLegacyNumber is the greatest numeric id an imported room or message may
// have: numbers Falcon makes have bit 62 set (libs/snowflake), so legacy
// ids below it never collide with them.
const MaxLegacyNumber = 1<<62 - 1

// Import is part of one legacy room's history as rows of the legacy
// database, each as it stands now: the room, members and messages. Thread
// imports it by converging the thread to the rows, so sending the same rows
// again changes nothing: the migration is idempotent by legacy id.
type Import struct {
	// RoomID is the legacy room's id: the thread is LegacyThreadID(RoomID).
	RoomID uint64
	// Room creates the thread if it does not exist, else updates its title,
	// remarks and deletion. Without it, the thread must exist.
	Room     *ImportedRoom
	Members  []ImportedMember
	Messages []ImportedMessage
}

// Name implements Command.
func (Import) Name() string { return "Import" }

// ImportedRoom is a row of the legacy room table.
type ImportedRoom struct {
	Name, Description    string
	CreatedAt, UpdatedAt time.Time
	Deleted              bool
}

// ImportedMember is a row of room_member, or its deletion (Removed).
type ImportedMember struct {
	AccountID string
	Admin     bool
	// At is when the row changed: joined_at for a new member.
	At      time.Time
	Removed bool
}

// ImportedMessage is a row of the legacy message table.
type ImportedMessage struct {
	Number               uint64
	AuthorID             string
	Body                 string
	ReplyTo              uint64
	CreatedAt, UpdatedAt time.Time
	Deleted              bool
	// BodyChanged says the body changed since the row was last sent (an
	// update read from the binlog): a message imported before takes it.
	BodyChanged bool
}

// ImportMeta is what an import needs from outside the domain.
type ImportMeta struct {
	// ActorID is the importer's account: the actor of the events no
	// legacy account made (membership changes, a room without members).
	ActorID       string
	CorrelationID string
	// NewEventID makes the id of each event.
	NewEventID func() string
}

// ImportResult counts what an import did.
type ImportResult struct {
	Version uint64
	// Events is how many events it appended.
	Events                                     int
	Created                                    bool
	Posted, Edited, Deleted, MembershipChanges int
	// Duplicates are rows the thread had already: sent again after a
	// restart, or by both the bulk run and the binlog.
	Duplicates int
	// Transformed counts texts changed to fit Falcon's rules (ImportText).
	Transformed int
	// RepliesDropped counts replies to messages the room does not have:
	// imported without the link.
	RepliesDropped int
	// Skipped counts rows of a room that was deleted, or never imported.
	Skipped int
	// TooOld counts edits of messages older than the thread's index
	// (MaxIndexedMessages), which the writer can no longer check.
	TooOld int
}

// LegacyThreadID is the thread id of an imported room: a ULID with time 0,
// which no thread made in Falcon has, and the room id, so every run of the
// migration names the same thread.
func LegacyThreadID(room uint64) string { return legacyULID('R', room) }

// LegacyMessageID is the message id of an imported message, made as
// LegacyThreadID: message ids of a room sort as their legacy ids do.
func LegacyMessageID(message uint64) string { return legacyULID('M', message) }

func legacyULID(kind byte, n uint64) string {
	var u ulid.ULID
	u[6], u[7] = 'L', kind
	binary.BigEndian.PutUint64(u[8:], n)
	return u.String()
}

// ImportText makes legacy text fit Falcon's text rules, and says whether it
// had to: bytes that are not UTF-8 and control characters (but newline and
// tab) become U+FFFD, a carriage return a newline, and bidirectional
// overrides U+FFFD. Length is kept: the limits are for what clients send,
// and a legacy TEXT column is at most 65,535 bytes.
func ImportText(s string) (string, bool) {
	if clean(s) {
		return s, false
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || r >= 0x7F && r < 0xA0 || r >= 0x202A && r <= 0x202E:
			return utf8.RuneError
		}
		return r
	}, s), true
}

func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' && c != '\t' || c == 0x7F || c >= 0x80 {
			return isCleanUnicode(s)
		}
	}
	return true
}

func isCleanUnicode(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r >= 0x7F && r < 0xA0 || r >= 0x202A && r <= 0x202E {
			return false
		}
	}
	return true
}

// ImportTitle is ImportText for a room name; a blank name becomes
// "Room <id>", since a thread needs a title.
func ImportTitle(name string, room uint64) (string, bool) {
	t, changed := ImportText(name)
	if strings.TrimSpace(t) == "" {
		return fmt.Sprintf("Room %d", room), true
	}
	return t, changed
}

// Import decides an import into events marked Imported and applies each to
// the thread as it decides it (a message of the batch may reply to an
// earlier one), as the writer does with Decide. It checks every row before
// deciding any: an invalid import changes nothing. The legacy database's
// rules are not Falcon's: an import keeps its authors even if they left,
// its members beyond MaxMembers and its rooms without an administrator.
func (t *Thread) Import(imp Import, m ImportMeta) ([]Event, ImportResult, error) {
	if err := t.checkImport(imp, m); err != nil {
		return nil, ImportResult{}, err
	}
	d := importer{t: t, meta: m, events: make([]Event, 0, imp.MaxEvents())}
	if imp.Room != nil {
		d.room(imp.RoomID, *imp.Room, imp.Members)
	}
	switch {
	case !t.Exists():
		d.res.Skipped += len(imp.Members) + len(imp.Messages)
	case t.destroyed:
		d.res.Skipped += len(imp.Members) + len(imp.Messages)
		if imp.Room != nil && !d.res.Created {
			d.res.Duplicates++
		}
	default:
		for _, mem := range imp.Members {
			if d.res.Created && !mem.Removed {
				continue // created with the thread
			}
			d.member(mem)
		}
		for _, msg := range imp.Messages {
			d.message(msg)
		}
		if r := imp.Room; r != nil && r.Deleted {
			d.emit(r.UpdatedAt, m.ActorID, ThreadDestroyed{})
		}
	}
	d.res.Version = t.version
	d.res.Events = len(d.events)
	return d.events, d.res, d.err
}

// MaxEvents bounds the events of an import, so that a batch of 1,000
// rows fills one slice instead of copying a growing one: a message row makes
// at most two (posted, then edited or deleted), the room two (created or
// updated, destroyed).
func (imp Import) MaxEvents() int {
	n := 2 + len(imp.Members)
	for _, msg := range imp.Messages {
		n++
		if msg.Deleted || msg.UpdatedAt.After(msg.CreatedAt) {
			n++
		}
	}
	return n
}

func (t *Thread) checkImport(imp Import, m ImportMeta) error {
	if err := ValidateAccountID("actor", m.ActorID); err != nil {
		return err
	}
	number := func(field string, n uint64) error {
		if n == 0 || n > MaxLegacyNumber {
			return invalid(field, "legacy id %d is out of range: 1 to %d", n, uint64(MaxLegacyNumber))
		}
		return nil
	}
	if err := number("room_id", imp.RoomID); err != nil {
		return err
	}
	if t.id != LegacyThreadID(imp.RoomID) {
		return invalid("room_id", "room %d is thread %s, not %s", imp.RoomID, LegacyThreadID(imp.RoomID), t.id)
	}
	if imp.Room == nil && len(imp.Members)+len(imp.Messages) == 0 {
		return invalid("room", "an import carries the room, members or messages")
	}
	for _, mem := range imp.Members {
		if err := ValidateAccountID("members.account_id", mem.AccountID); err != nil {
			return err
		}
	}
	for _, msg := range imp.Messages {
		if err := number("messages.message_id", msg.Number); err != nil {
			return err
		}
		if msg.ReplyTo > MaxLegacyNumber {
			return invalid("messages.reply_to", "legacy id %d is out of range: at most %d", msg.ReplyTo, uint64(MaxLegacyNumber))
		}
		if err := ValidateAccountID("messages.account_id", msg.AuthorID); err != nil {
			return err
		}
	}
	return nil
}

// importer decides the events of one import.
type importer struct {
	t      *Thread
	meta   ImportMeta
	events []Event
	res    ImportResult
	err    error
}

// emit makes the next event of the thread and applies it.
func (d *importer) emit(at time.Time, actor string, p Payload) {
	if d.err != nil {
		return
	}
	number := d.t.number
	if c, ok := p.(ThreadCreated); ok {
		number = c.Number
	}
	e := Event{ID: d.meta.NewEventID(), ThreadID: d.t.id, Version: d.t.version + 1, OccurredAt: at.UTC(), ActorID: actor,
		CorrelationID: d.meta.CorrelationID, ThreadNumber: number, Imported: true, Payload: p}
	if err := d.t.Apply(e); err != nil {
		d.err = fmt.Errorf("imported event does not fold: %w", err)
		return
	}
	d.events = append(d.events, e)
}

func (d *importer) room(number uint64, r ImportedRoom, members []ImportedMember) {
	t := d.t
	title, changedTitle := ImportTitle(r.Name, number)
	remarks, changedRemarks := ImportText(r.Description)
	if !t.Exists() {
		if r.Deleted {
			d.res.Skipped++
			return
		}
		var ids, admins []string
		for _, mem := range members {
			if mem.Removed {
				continue
			}
			ids = append(ids, mem.AccountID)
			if mem.Admin {
				admins = append(admins, mem.AccountID)
			}
		}
		ids, admins = union(nil, ids), union(nil, admins)
		creator := d.meta.ActorID
		if len(admins) > 0 {
			creator = admins[0]
		} else if len(ids) > 0 {
			creator = ids[0]
		}
		d.count(changedTitle, changedRemarks)
		d.emit(r.CreatedAt, creator, ThreadCreated{Title: title, Remarks: remarks, MemberIDs: ids, AdministratorIDs: admins, Number: number})
		d.res.Created = true
		return
	}
	if t.destroyed {
		return
	}
	var u ThreadUpdated
	if title != t.title {
		u.Title = &title
	}
	if remarks != t.remarks {
		u.Remarks = &remarks
	}
	if u.Title == nil && u.Remarks == nil {
		if !r.Deleted {
			d.res.Duplicates++
		}
		return
	}
	d.count(changedTitle && u.Title != nil, changedRemarks && u.Remarks != nil)
	d.emit(r.UpdatedAt, d.meta.ActorID, u)
}

func (d *importer) count(changed ...bool) {
	for _, c := range changed {
		if c {
			d.res.Transformed++
		}
	}
}

func (d *importer) member(mem ImportedMember) {
	t, id := d.t, mem.AccountID
	ids := []string{id}
	var p Payload
	switch {
	case mem.Removed && t.IsMember(id):
		p = MembersRemoved{AccountIDs: ids}
	case mem.Removed:
	case !t.IsMember(id) && mem.Admin:
		p = AdministratorsAdded{AccountIDs: ids}
	case !t.IsMember(id):
		p = MembersAdded{AccountIDs: ids}
	case mem.Admin && !t.IsAdministrator(id):
		p = AdministratorsAdded{AccountIDs: ids}
	case !mem.Admin && t.IsAdministrator(id):
		p = AdministratorsRemoved{AccountIDs: ids}
	}
	if p == nil {
		d.res.Duplicates++
		return
	}
	d.emit(mem.At, d.meta.ActorID, p)
	d.res.MembershipChanges++
}

func (d *importer) message(msg ImportedMessage) {
	t := d.t
	id := LegacyMessageID(msg.Number)
	ref, indexed := t.messages.get(id)
	if !indexed && msg.Number <= t.messages.evicted {
		// Imported long ago, or a row so late that the index forgot the
		// messages around it: the thread cannot tell. A deletion goes to
		// the read model, which deletes what it has (Sequence 0: it looks
		// the message up); an edit cannot be checked and is reported.
		switch {
		case msg.Deleted:
			d.emit(msg.UpdatedAt, d.meta.ActorID, MessageDeleted{MessageID: id, Number: msg.Number})
			d.res.Deleted++
		case msg.BodyChanged:
			d.res.TooOld++
		default:
			d.res.Duplicates++
		}
		return
	}
	if indexed {
		switch {
		case ref.deleted:
			d.res.Duplicates++
		case msg.Deleted:
			d.emit(msg.UpdatedAt, ref.author, MessageDeleted{MessageID: id, Sequence: ref.seq, Number: ref.number})
			d.res.Deleted++
		case msg.BodyChanged:
			body, changed := ImportText(msg.Body)
			d.count(changed)
			d.emit(msg.UpdatedAt, ref.author, MessageEdited{MessageID: id, Body: body, Number: ref.number})
			d.res.Edited++
		default:
			d.res.Duplicates++
		}
		return
	}
	body, changed := ImportText(msg.Body)
	d.count(changed)
	p := MessagePosted{MessageID: id, Body: body, Sequence: t.posted + 1, Number: msg.Number}
	if msg.ReplyTo != 0 {
		rid := LegacyMessageID(msg.ReplyTo)
		if r, ok := t.messages.get(rid); ok {
			p.ReplyToMessageID, p.ReplyToNumber = rid, r.number
		} else if msg.ReplyTo <= t.messages.evicted {
			p.ReplyToMessageID, p.ReplyToNumber = rid, msg.ReplyTo
		} else {
			d.res.RepliesDropped++
		}
	}
	d.emit(msg.CreatedAt, msg.AuthorID, p)
	d.res.Posted++
	switch {
	case msg.Deleted:
		d.emit(msg.UpdatedAt, msg.AuthorID, MessageDeleted{MessageID: id, Sequence: p.Sequence, Number: msg.Number})
		d.res.Deleted++
	case msg.UpdatedAt.After(msg.CreatedAt):
		// The legacy row keeps only the last body; the edit records when.
		d.emit(msg.UpdatedAt, msg.AuthorID, MessageEdited{MessageID: id, Body: body, Number: msg.Number})
		d.res.Edited++
	}
}
