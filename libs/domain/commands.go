package domain

// Command is one of the eleven thread commands below.
type Command interface {
	// Name is the RPC name, used to refuse a request id reused for another
	// command.
	Name() string
}

// CreateThread makes a thread; anyone may, and becomes its administrator.
type CreateThread struct {
	Title            string
	Remarks          string
	MemberIDs        []string
	AdministratorIDs []string
}

// UpdateThread changes what is set and keeps the rest.
type UpdateThread struct {
	Title   *string
	Remarks *string
}

// DestroyThread ends a thread (administrators).
type DestroyThread struct{}

// AddMembers adds members (administrators).
type AddMembers struct{ AccountIDs []string }

// RemoveMembers removes members (administrators; a member may remove itself).
type RemoveMembers struct{ AccountIDs []string }

// AddAdministrators gives accounts the administrator role (administrators).
type AddAdministrators struct{ AccountIDs []string }

// RemoveAdministrators takes the role away; one administrator always stays.
type RemoveAdministrators struct{ AccountIDs []string }

// PostMessage posts a message (members).
type PostMessage struct {
	Body              string
	ReplyToMessageID  string
	MentionAccountIDs []string
}

// EditMessage replaces a message's body (its author).
type EditMessage struct {
	MessageID string
	Body      string
}

// DeleteMessage removes a message (its author or an administrator).
type DeleteMessage struct{ MessageID string }

// MarkRead moves the caller's read marker forward to a message (members). A
// message at or before the marker changes nothing.
type MarkRead struct{ MessageID string }

// Name implements Command.
func (CreateThread) Name() string { return "CreateThread" }

// Name implements Command.
func (UpdateThread) Name() string { return "UpdateThread" }

// Name implements Command.
func (DestroyThread) Name() string { return "DestroyThread" }

// Name implements Command.
func (AddMembers) Name() string { return "AddMembers" }

// Name implements Command.
func (RemoveMembers) Name() string { return "RemoveMembers" }

// Name implements Command.
func (AddAdministrators) Name() string { return "AddAdministrators" }

// Name implements Command.
func (RemoveAdministrators) Name() string { return "RemoveAdministrators" }

// Name implements Command.
func (PostMessage) Name() string { return "PostMessage" }

// Name implements Command.
func (EditMessage) Name() string { return "EditMessage" }

// Name implements Command.
func (MarkRead) Name() string { return "MarkRead" }

// Name implements Command.
func (DeleteMessage) Name() string { return "DeleteMessage" }

// commandOf names the command that produced an event, so a replayed thread
// remembers which command each request id belonged to.
func commandOf(p Payload) string {
	switch p.(type) {
	case ThreadCreated:
		return "CreateThread"
	case ThreadUpdated:
		return "UpdateThread"
	case ThreadDestroyed:
		return "DestroyThread"
	case MembersAdded:
		return "AddMembers"
	case MembersRemoved:
		return "RemoveMembers"
	case AdministratorsAdded:
		return "AddAdministrators"
	case AdministratorsRemoved:
		return "RemoveAdministrators"
	case MessagePosted:
		return "PostMessage"
	case MessageEdited:
		return "EditMessage"
	case MessageDeleted:
		return "DeleteMessage"
	case ReadMarkerMoved:
		return "MarkRead"
	}
	return ""
}
