package writeapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/domain"
	falconlog "github.com/falcon-chat/falcon/libs/logging"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// Limits of one Import call: a room's history comes in many calls.
const (
	MaxImportMessages = 1000
	MaxImportMembers  = 1000
)

// ImportGRPC is the transport of ImportService: the legacy history, as
// rows, through the thread's single writer.
type ImportGRPC struct {
	falconv1.UnimplementedImportServiceServer
	g       *GRPC
	allowed []string
	names   *accountNames
}

// NewImportGRPC returns the transport of ImportService, allowing the
// accounts of allowed to import.
func NewImportGRPC(g *GRPC, allowed []string) *ImportGRPC {
	return &ImportGRPC{g: g, allowed: allowed, names: newAccountNames(maxAccountNames)}
}

// maxAccountNames bounds accountNames: ~50 bytes an id, 50 MB in all.
const maxAccountNames = 1 << 20

// accountNames makes legacy account ids text once for all of a replica's
// import calls, so that the members and authors of every thread share one
// string per account rather than one per call: after a bulk import of 1M
// messages those strings were 44 % of write-api's live objects, which the
// garbage collector marks on every cycle. Past max ids, further ones are
// made text per call.
type accountNames struct {
	mu    sync.RWMutex
	names map[uint64]string
	max   int
}

func newAccountNames(max int) *accountNames {
	return &accountNames{names: map[uint64]string{}, max: max}
}

// name is the account id's decimal text.
func (a *accountNames) name(id uint64) string {
	a.mu.RLock()
	s, ok := a.names[id]
	a.mu.RUnlock()
	if ok {
		return s
	}
	s = strconv.FormatUint(id, 10)
	a.mu.Lock()
	if len(a.names) < a.max {
		a.names[id] = s
	}
	a.mu.Unlock()
	return s
}

// Import implements ImportService.
func (i *ImportGRPC) Import(ctx context.Context, r *falconv1.ImportRequest) (*falconv1.ImportResponse, error) {
	actor, ok := auth.Account(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no caller identity")
	}
	if !slices.Contains(i.allowed, actor) {
		return nil, status.Errorf(codes.PermissionDenied, "account %s may not import: only the accounts of write-api's --import-accounts may", actor)
	}
	imp, err := importOf(r, i.names.name)
	if err != nil {
		return nil, err
	}
	threadID := domain.LegacyThreadID(r.RoomId)
	md, _ := metadata.FromIncomingContext(ctx)
	c := Command{ThreadID: threadID, ActorID: actor, Cmd: imp, Forwarded: i.g.forwarded(ctx, md),
		CorrelationID: correlationID(ctx, md, threadID)}
	falconlog.AddRequestField(ctx, "correlation_id", c.CorrelationID)
	res, err := i.g.svc.Execute(ctx, c)
	if err != nil {
		return nil, i.g.status(ctx, err)
	}
	setCommitted(ctx, res)
	out := &falconv1.ImportResponse{ThreadId: threadID, Version: res.Version}
	if n := res.Import; n != nil {
		out.Events, out.Created = uint32(n.Events), n.Created
		out.Posted, out.Edited, out.Deleted = uint32(n.Posted), uint32(n.Edited), uint32(n.Deleted)
		out.MembershipChanges, out.Duplicates, out.Transformed = uint32(n.MembershipChanges), uint32(n.Duplicates), uint32(n.Transformed)
		out.RepliesDropped, out.Skipped, out.TooOld = uint32(n.RepliesDropped), uint32(n.Skipped), uint32(n.TooOld)
	}
	return out, nil
}

// importResultOf is the result an owner answered a forwarded import with.
func importResultOf(r *falconv1.ImportResponse) *domain.ImportResult {
	if r == nil {
		return nil
	}
	return &domain.ImportResult{Version: r.Version, Events: int(r.Events), Created: r.Created,
		Posted: int(r.Posted), Edited: int(r.Edited), Deleted: int(r.Deleted), MembershipChanges: int(r.MembershipChanges),
		Duplicates: int(r.Duplicates), Transformed: int(r.Transformed), RepliesDropped: int(r.RepliesDropped),
		Skipped: int(r.Skipped), TooOld: int(r.TooOld)}
}

// importOf checks a request's shape (the domain checks the rows) and turns
// it into the domain's Import, with accountID making account ids text.
func importOf(r *falconv1.ImportRequest, accountID func(uint64) string) (domain.Import, error) {
	switch {
	case r.RoomId == 0 || r.RoomId > domain.MaxLegacyNumber:
		return domain.Import{}, domainStatus(invalidField("room_id", "legacy room id %d is out of range: 1 to %d", r.RoomId, uint64(domain.MaxLegacyNumber)))
	case len(r.Messages) > MaxImportMessages:
		return domain.Import{}, domainStatus(invalidField("messages", "%d messages in one call, at most %d: send the rest in further calls", len(r.Messages), MaxImportMessages))
	case len(r.Members) > MaxImportMembers:
		return domain.Import{}, domainStatus(invalidField("members", "%d members in one call, at most %d: send the rest in further calls", len(r.Members), MaxImportMembers))
	}
	imp := domain.Import{RoomID: r.RoomId}
	if room := r.Room; room != nil {
		imp.Room = &domain.ImportedRoom{Name: string(room.Name), Description: string(room.Description),
			CreatedAt: room.CreatedAt.AsTime(), UpdatedAt: room.UpdatedAt.AsTime(), Deleted: room.Deleted}
	}
	if len(r.Members) > 0 {
		imp.Members = make([]domain.ImportedMember, 0, len(r.Members))
	}
	for _, m := range r.Members {
		imp.Members = append(imp.Members, domain.ImportedMember{AccountID: accountID(m.AccountId), Admin: m.Admin,
			At: m.At.AsTime(), Removed: m.Removed})
	}
	if len(r.Messages) > 0 {
		imp.Messages = make([]domain.ImportedMessage, 0, len(r.Messages))
	}
	for _, m := range r.Messages {
		imp.Messages = append(imp.Messages, domain.ImportedMessage{Number: m.MessageId, AuthorID: accountID(m.AccountId),
			Body: string(m.Body), ReplyTo: m.ReplyTo, CreatedAt: m.CreatedAt.AsTime(), UpdatedAt: m.UpdatedAt.AsTime(),
			Deleted: m.Deleted, BodyChanged: m.BodyChanged})
	}
	return imp, nil
}

func invalidField(field, format string, args ...any) error {
	return &domain.Error{Kind: domain.Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// importRequest is the request of an Import, to forward it to the owner.
func importRequest(imp domain.Import) *falconv1.ImportRequest {
	r := &falconv1.ImportRequest{RoomId: imp.RoomID}
	if room := imp.Room; room != nil {
		r.Room = &falconv1.LegacyRoom{Name: []byte(room.Name), Description: []byte(room.Description),
			CreatedAt: timestamppb.New(room.CreatedAt), UpdatedAt: timestamppb.New(room.UpdatedAt), Deleted: room.Deleted}
	}
	for _, m := range imp.Members {
		id, _ := strconv.ParseUint(m.AccountID, 10, 64)
		r.Members = append(r.Members, &falconv1.LegacyMember{AccountId: id, Admin: m.Admin, At: timestamppb.New(m.At), Removed: m.Removed})
	}
	for _, m := range imp.Messages {
		author, _ := strconv.ParseUint(m.AuthorID, 10, 64)
		r.Messages = append(r.Messages, &falconv1.LegacyMessage{MessageId: m.Number, AccountId: author, Body: []byte(m.Body),
			ReplyTo: m.ReplyTo, CreatedAt: timestamppb.New(m.CreatedAt), UpdatedAt: timestamppb.New(m.UpdatedAt),
			Deleted: m.Deleted, BodyChanged: m.BodyChanged})
	}
	return r
}
