package domain

// Command is one of the ten thread commands below.
type Command interface {
	// Name is the RPC name, used to refuse a request id reused for another
	// command.
	Name() string
}

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

type DestroyThread struct{}

type AddMembers struct{ AccountIDs []string }

type RemoveMembers struct{ AccountIDs []string }

type AddAdministrators struct{ AccountIDs []string }

type RemoveAdministrators struct{ AccountIDs []string }

type PostMessage struct {
	Body              string
	ReplyToMessageID  string
	MentionAccountIDs []string
}

type EditMessage struct {
	MessageID string
	Body      string
}

type DeleteMessage struct{ MessageID string }

func (CreateThread) Name() string         { return "CreateThread" }
func (UpdateThread) Name() string         { return "UpdateThread" }
func (DestroyThread) Name() string        { return "DestroyThread" }
func (AddMembers) Name() string           { return "AddMembers" }
func (RemoveMembers) Name() string        { return "RemoveMembers" }
func (AddAdministrators) Name() string    { return "AddAdministrators" }
func (RemoveAdministrators) Name() string { return "RemoveAdministrators" }
func (PostMessage) Name() string          { return "PostMessage" }
func (EditMessage) Name() string          { return "EditMessage" }
func (DeleteMessage) Name() string        { return "DeleteMessage" }

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
	}
	return ""
}
