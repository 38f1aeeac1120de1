package domain

// Membership is what an event does to a thread's members and
// administrators. Removals come before additions (no event has both).
type Membership struct {
	AddMembers, RemoveMembers               []string
	AddAdministrators, RemoveAdministrators []string
}

// MembershipOf returns the membership change of an event's payload: the one
// statement of the rules that both the aggregate (Thread.Apply) and the read
// models fold by. Administrators are members: adding one adds a member, and
// a member removed (or leaving) stops being an administrator too. Payloads
// that change no membership give the zero Membership.
func MembershipOf(payload any) Membership {
	switch p := payload.(type) {
	case ThreadCreated:
		return Membership{AddMembers: p.MemberIDs, AddAdministrators: p.AdministratorIDs}
	case MembersAdded:
		return Membership{AddMembers: p.AccountIDs}
	case MembersRemoved:
		return Membership{RemoveMembers: p.AccountIDs, RemoveAdministrators: p.AccountIDs}
	case AdministratorsAdded:
		return Membership{AddMembers: p.AccountIDs, AddAdministrators: p.AccountIDs}
	case AdministratorsRemoved:
		return Membership{RemoveAdministrators: p.AccountIDs}
	}
	return Membership{}
}
