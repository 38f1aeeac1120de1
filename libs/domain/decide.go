package domain

import (
	"time"
)

// Meta is what a command needs from outside the domain: who asks, the ids
// and the time, chosen by the caller so the domain stays pure.
type Meta struct {
	ActorID       string
	RequestID     string
	CorrelationID string
	// EventID is the id of the event the command produces, if any.
	EventID string
	// NewMessageID is the id PostMessage gives the new message.
	NewMessageID string
	// NewNumber is the numeric id CreateThread gives the new thread and
	// PostMessage the new message (the partition's writer makes it).
	NewNumber uint64
	Now       time.Time
}

// Decide validates cmd against the thread and returns the event it produces.
// Decide does not apply the event: the caller does, with Apply, before it
// decides the next command of the same thread. write-api applies each event
// at once, before the transaction that makes it durable commits, so that
// the next command of the same group commit sees it; if that transaction
// fails, write-api throws the thread away and rebuilds it from the log, so
// no answer ever rests on an event that was not committed. A nil event with
// a nil error is an answer without a change: a retried request id
// (Result.Replayed) or a command that changes nothing (adding members who
// already are).
func (t *Thread) Decide(cmd Command, m Meta) (*Event, Result, error) {
	if err := ValidateAccountID("actor", m.ActorID); err != nil {
		return nil, Result{}, err
	}
	var hash string
	if m.RequestID != "" {
		if err := ValidateULID("request_id", m.RequestID); err != nil {
			return nil, Result{}, err
		}
		hash = RequestHash(cmd)
		// A retry gets its first answer; the key is the account's own, so no
		// one else's answer is ever replayed to it.
		if prev, ok := t.requests.lookup(m.ActorID, m.RequestID); ok {
			if prev.command != cmd.Name() || prev.hash != "" && prev.hash != hash {
				return nil, Result{}, alreadyExists("request_id", "request_id %s was already used for another request (%s); use a new request id for each request",
					m.RequestID, prev.command)
			}
			// A destroyed thread answers nothing but the destroy again.
			if !t.destroyed || prev.command == (DestroyThread{}).Name() {
				r := prev.result
				r.Replayed = true
				return nil, r, nil
			}
		}
	}
	if _, create := cmd.(CreateThread); !create {
		// A thread that does not exist and one the actor cannot see answer
		// alike: no existence oracle.
		if !t.Exists() || !t.IsMember(m.ActorID) {
			return nil, Result{}, notFound("thread_id", "thread %s does not exist, or account %s is not a member of it", t.id, m.ActorID)
		}
		if t.destroyed {
			return nil, Result{}, conflict("thread %s was destroyed and accepts no more commands", t.id)
		}
	}
	p, err := t.decide(cmd, m)
	if err != nil || p == nil {
		return nil, Result{Version: t.version}, err
	}
	e := &Event{
		ID:            m.EventID,
		ThreadID:      t.id,
		Version:       t.version + 1,
		OccurredAt:    m.Now,
		ActorID:       m.ActorID,
		RequestID:     m.RequestID,
		CorrelationID: m.CorrelationID,
		RequestHash:   hash,
		ThreadNumber:  t.number,
		Payload:       p,
	}
	if c, ok := p.(ThreadCreated); ok {
		e.ThreadNumber = c.Number
	}
	return e, resultOf(*e), nil
}

func (t *Thread) decide(cmd Command, m Meta) (Payload, error) {
	actor := m.ActorID
	switch c := cmd.(type) {
	case CreateThread:
		return t.create(c, actor, m.NewNumber)
	case UpdateThread:
		return t.update(c, actor)
	case DestroyThread:
		if err := t.requireAdmin(actor, "destroy"); err != nil {
			return nil, err
		}
		return ThreadDestroyed{}, nil
	case AddMembers:
		return t.addMembers(c, actor)
	case RemoveMembers:
		return t.removeMembers(c, actor)
	case AddAdministrators:
		return t.addAdministrators(c, actor)
	case RemoveAdministrators:
		return t.removeAdministrators(c, actor)
	case PostMessage:
		return t.post(c, actor, m.NewMessageID, m.NewNumber)
	case EditMessage:
		return t.edit(c, actor)
	case DeleteMessage:
		return t.deleteMessage(c, actor)
	case MarkRead:
		return t.markRead(c, actor)
	}
	return nil, invalid("", "unknown command %T", cmd)
}

func (t *Thread) create(c CreateThread, actor string, number uint64) (Payload, error) {
	if t.Exists() {
		return nil, alreadyExists("request_id", "thread %s already exists: a thread is named by the request that creates it, so each CreateThread needs a new request_id", t.id)
	}
	if err := validateTitle(c.Title); err != nil {
		return nil, err
	}
	if err := validateRemarks(c.Remarks); err != nil {
		return nil, err
	}
	members, err := accountSet("member_ids", c.MemberIDs, MaxMembers)
	if err != nil {
		return nil, err
	}
	admins, err := accountSet("administrator_ids", c.AdministratorIDs, MaxMembers)
	if err != nil {
		return nil, err
	}
	// The creator administers the thread; administrators are members.
	admins = union([]string{actor}, admins)
	members = union(admins, members)
	if len(members) > MaxMembers {
		return nil, invalid("member_ids", "a thread has at most %d members, this one would have %d", MaxMembers, len(members))
	}
	return ThreadCreated{Title: c.Title, Remarks: c.Remarks, MemberIDs: members, AdministratorIDs: admins, Number: number}, nil
}

func (t *Thread) update(c UpdateThread, actor string) (Payload, error) {
	if err := t.requireAdmin(actor, "update"); err != nil {
		return nil, err
	}
	if c.Title == nil && c.Remarks == nil {
		return nil, invalid("title", "nothing to update: set title, remarks or both")
	}
	if c.Title != nil {
		if err := validateTitle(*c.Title); err != nil {
			return nil, err
		}
	}
	if c.Remarks != nil {
		if err := validateRemarks(*c.Remarks); err != nil {
			return nil, err
		}
	}
	return ThreadUpdated(c), nil
}

func (t *Thread) addMembers(c AddMembers, actor string) (Payload, error) {
	if err := t.requireAdmin(actor, "add members to"); err != nil {
		return nil, err
	}
	ids, err := nonEmptyAccounts(c.AccountIDs)
	if err != nil {
		return nil, err
	}
	added := notIn(t.members, ids)
	if len(added) == 0 {
		return nil, nil
	}
	if n := len(t.members) + len(added); n > MaxMembers {
		return nil, invalid("account_ids", "a thread has at most %d members, this one would have %d", MaxMembers, n)
	}
	return MembersAdded{AccountIDs: added}, nil
}

func (t *Thread) removeMembers(c RemoveMembers, actor string) (Payload, error) {
	ids, err := nonEmptyAccounts(c.AccountIDs)
	if err != nil {
		return nil, err
	}
	leaving := len(ids) == 1 && ids[0] == actor && t.IsMember(actor)
	if !leaving {
		if err := t.requireAdmin(actor, "remove members from"); err != nil {
			return nil, err
		}
	}
	removed := in(t.members, ids)
	if len(removed) == 0 {
		return nil, nil
	}
	if len(in(t.admins, removed)) == len(t.admins) {
		return nil, conflict("a thread keeps at least one administrator: make another member administrator before removing %v", in(t.admins, removed))
	}
	return MembersRemoved{AccountIDs: removed}, nil
}

func (t *Thread) addAdministrators(c AddAdministrators, actor string) (Payload, error) {
	if err := t.requireAdmin(actor, "add administrators to"); err != nil {
		return nil, err
	}
	ids, err := nonEmptyAccounts(c.AccountIDs)
	if err != nil {
		return nil, err
	}
	added := notIn(t.admins, ids)
	if len(added) == 0 {
		return nil, nil
	}
	if n := len(t.members) + len(notIn(t.members, added)); n > MaxMembers {
		return nil, invalid("account_ids", "a thread has at most %d members, this one would have %d", MaxMembers, n)
	}
	return AdministratorsAdded{AccountIDs: added}, nil
}

func (t *Thread) removeAdministrators(c RemoveAdministrators, actor string) (Payload, error) {
	if err := t.requireAdmin(actor, "remove administrators from"); err != nil {
		return nil, err
	}
	ids, err := nonEmptyAccounts(c.AccountIDs)
	if err != nil {
		return nil, err
	}
	removed := in(t.admins, ids)
	if len(removed) == 0 {
		return nil, nil
	}
	if len(removed) == len(t.admins) {
		return nil, conflict("a thread keeps at least one administrator: add another administrator before removing %v", removed)
	}
	return AdministratorsRemoved{AccountIDs: removed}, nil
}

func (t *Thread) post(c PostMessage, actor, messageID string, number uint64) (Payload, error) {
	if err := t.requireMember(actor, "post in"); err != nil {
		return nil, err
	}
	if err := ValidateULID("message_id", messageID); err != nil {
		return nil, err
	}
	if err := validateBody(c.Body); err != nil {
		return nil, err
	}
	var replyTo uint64
	if c.ReplyToMessageID != "" {
		if err := ValidateULID("reply_to_message_id", c.ReplyToMessageID); err != nil {
			return nil, err
		}
		ref, ok := t.live(c.ReplyToMessageID)
		if !ok {
			return nil, notFound("reply_to_message_id", "message %s does not exist in thread %s, or is older than its %d most recent messages, the only ones that can be replied to",
				c.ReplyToMessageID, t.id, MaxIndexedMessages)
		}
		replyTo = ref.number
	}
	mentions, err := accountSet("mention_account_ids", c.MentionAccountIDs, MaxMentions)
	if err != nil {
		return nil, err
	}
	if outside := notIn(t.members, mentions); len(outside) > 0 {
		return nil, invalid("mention_account_ids", "only members can be mentioned; not members: %v", outside)
	}
	return MessagePosted{MessageID: messageID, Body: c.Body, ReplyToMessageID: c.ReplyToMessageID, MentionAccountIDs: mentions,
		Sequence: t.posted + 1, Number: number, ReplyToNumber: replyTo}, nil
}

func (t *Thread) edit(c EditMessage, actor string) (Payload, error) {
	if err := t.requireMember(actor, "edit messages in"); err != nil {
		return nil, err
	}
	ref, err := t.message(c.MessageID)
	if err != nil {
		return nil, err
	}
	if ref.author != actor {
		return nil, forbidden("only the author may edit message %s", c.MessageID)
	}
	if err := validateBody(c.Body); err != nil {
		return nil, err
	}
	return MessageEdited{MessageID: c.MessageID, Body: c.Body, Number: ref.number}, nil
}

func (t *Thread) deleteMessage(c DeleteMessage, actor string) (Payload, error) {
	if err := t.requireMember(actor, "delete messages in"); err != nil {
		return nil, err
	}
	ref, err := t.message(c.MessageID)
	if err != nil {
		return nil, err
	}
	if ref.author != actor && !t.IsAdministrator(actor) {
		return nil, forbidden("only the author or an administrator may delete message %s", c.MessageID)
	}
	return MessageDeleted{MessageID: c.MessageID, Sequence: ref.seq, Number: ref.number}, nil
}

// message is the live indexed message an edit or delete names.
func (t *Thread) message(id string) (messageRef, error) {
	if err := ValidateULID("message_id", id); err != nil {
		return messageRef{}, err
	}
	m, ok := t.live(id)
	if !ok {
		return messageRef{}, notFound("message_id", "message %s does not exist in thread %s, or is older than its %d most recent messages, the only ones that can be edited or deleted",
			id, t.id, MaxIndexedMessages)
	}
	return m, nil
}

// markRead moves the actor's marker forward; a message at or before it is
// accepted and changes nothing, so that devices marking out of order agree.
func (t *Thread) markRead(c MarkRead, actor string) (Payload, error) {
	if err := t.requireMember(actor, "mark messages read in"); err != nil {
		return nil, err
	}
	if err := ValidateULID("message_id", c.MessageID); err != nil {
		return nil, err
	}
	m, ok := t.live(c.MessageID)
	if !ok {
		return nil, notFound("message_id", "message %s does not exist in thread %s (or was deleted), or is older than its %d most recent messages: mark its newest message read instead",
			c.MessageID, t.id, MaxIndexedMessages)
	}
	if m.seq <= t.markers[actor] {
		return nil, nil
	}
	return ReadMarkerMoved{MessageID: c.MessageID, Position: m.seq}, nil
}

func (t *Thread) requireMember(actor, what string) error {
	if !t.IsMember(actor) {
		return forbidden("account %s is not a member of thread %s and may not %s it", actor, t.id, what)
	}
	return nil
}

func (t *Thread) requireAdmin(actor, what string) error {
	if !t.IsAdministrator(actor) {
		return forbidden("account %s is not an administrator of thread %s and may not %s it", actor, t.id, what)
	}
	return nil
}

func nonEmptyAccounts(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, invalid("account_ids", "is required: name at least one account")
	}
	return accountSet("account_ids", ids, MaxAccountsPerCall)
}

// in returns the ids that are in set; notIn those that are not.
func in(set map[string]struct{}, ids []string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := set[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

func notIn(set map[string]struct{}, ids []string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := set[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

func union(a, b []string) []string {
	seen := make(map[string]struct{}, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, s := range append(append([]string{}, a...), b...) {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}
