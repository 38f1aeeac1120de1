package writeapi

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/domain"
	falconlog "github.com/falcon-chat/falcon/libs/logging"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// GRPC is the transport of ThreadCommandService: it maps requests to
// commands of the application layer and results and errors back.
type GRPC struct {
	falconv1.UnimplementedThreadCommandServiceServer
	svc      *Service
	log      *zap.Logger
	replicas replicaAuth
}

func newGRPC(svc *Service, log *zap.Logger, replicas replicaAuth) *GRPC {
	return &GRPC{svc: svc, log: log, replicas: replicas}
}

// forwarded says whether another replica forwarded this call: only with a
// proof that verifies; anyone else's marker is ignored.
func (g *GRPC) forwarded(ctx context.Context, md metadata.MD) bool {
	v := md.Get(forwardedHeader)
	if len(v) == 0 {
		return false
	}
	if err := g.replicas.verify(v[0], time.Now()); err != nil {
		falconlog.For(ctx, g.log).Warn("a forwarded-command marker that does not verify; treating the command as a client's", zap.Error(err))
		return false
	}
	return true
}

// execute runs one command through the service and maps its answer.
func execute[Resp any](ctx context.Context, g *GRPC, threadID string, requestID *string, cmd domain.Command,
	answer func(domain.Result) Resp) (Resp, error) {
	var zero Resp
	actor, ok := auth.Account(ctx)
	if !ok {
		return zero, status.Error(codes.Unauthenticated, "no caller identity")
	}
	if err := ensureRequestID(requestID); err != nil {
		return zero, err
	}
	md, _ := metadata.FromIncomingContext(ctx)
	c := Command{ThreadID: threadID, ActorID: actor, RequestID: *requestID, Cmd: cmd, Forwarded: g.forwarded(ctx, md),
		CorrelationID: correlationID(ctx, md, *requestID)}
	falconlog.AddRequestField(ctx, "correlation_id", c.CorrelationID)
	res, err := g.svc.Execute(ctx, c)
	if err != nil {
		return zero, g.status(ctx, err)
	}
	setCommitted(ctx, res)
	return answer(res.Result), nil
}

// CommittedHeader is the response header that says when the commit of a
// command's events to the event log began (RFC 3339 with nanoseconds, by
// the owner's clock: the transaction's EndTxn was sent then, and no
// read_committed reader saw the events before); it is absent when the
// command appended none. Push latency is measured from it (loadtest's push
// scenario), so never shorter than from the commit itself.
const CommittedHeader = "falcon-committed-at"

// setCommitted sends CommittedHeader with the answer.
func setCommitted(ctx context.Context, o Outcome) {
	if o.Committed.IsZero() {
		return
	}
	// Only a call without a transport (a test calling the handler) cannot
	// take headers; the answer stands without it.
	_ = grpc.SetHeader(ctx, metadata.Pairs(CommittedHeader, o.Committed.UTC().Format(time.RFC3339Nano)))
}

// committedAt reads CommittedHeader from an owner's answer (zero if absent
// or malformed).
func committedAt(md metadata.MD) time.Time {
	v := md.Get(CommittedHeader)
	if len(v) == 0 {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil {
		return time.Time{}
	}
	return t
}

// CorrelationHeader is the header a caller names its correlation id in;
// the events of the command carry it (EventEnvelope.correlation_id), and
// the legacy system receives it.
const CorrelationHeader = "x-correlation-id"

// correlationID is the caller's correlation id if it gave a well-formed
// one, else the trace id of the request, else its request id: every event
// carries one, and the logs and the legacy payload name it.
func correlationID(ctx context.Context, md metadata.MD, requestID string) string {
	if v := md.Get(CorrelationHeader); len(v) > 0 && wellFormedCorrelation(v[0]) {
		return v[0]
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return requestID
}

// wellFormedCorrelation: 1 to 128 characters a log line and a header carry
// as they are; anything else is replaced rather than refused.
func wellFormedCorrelation(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !letter && !strings.ContainsRune("._:-", r) {
			return false
		}
	}
	return true
}

// ensureRequestID checks the client's request id (canonicalizing its
// spelling), or picks one: every command carries one, so an internal retry
// can never apply it twice.
func ensureRequestID(id *string) error {
	if *id == "" {
		*id = ulid.Make().String()
		return nil
	}
	return canonical("request_id", id)
}

// canonical checks an id the client sent and rewrites it in its canonical
// spelling: a lower-case ULID names the same thread or message as its
// upper-case form, and must reach the same one.
func canonical(field string, id *string) error {
	c, err := domain.CanonicalULID(field, *id)
	if err != nil {
		return domainStatus(err)
	}
	*id = c
	return nil
}

// canonicalOptional is canonical for an id the client may leave empty.
func canonicalOptional(field string, id *string) error {
	if *id == "" {
		return nil
	}
	return canonical(field, id)
}

// status maps an error of the application layer to a gRPC status; a
// status the owner answered a forwarded command with passes as it is.
func (g *GRPC) status(ctx context.Context, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		return domainStatus(de)
	case errors.Is(err, ErrLostOwnership), errors.Is(err, ErrNotCommitted), errors.Is(err, ErrNoOwner), errors.Is(err, ErrNotConnected):
		st := status.New(codes.Unavailable, err.Error()+"; nothing was applied twice: retry with the same request_id")
		if d, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(200 * time.Millisecond)}); derr == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	}
	falconlog.For(ctx, g.log).Error("command failed", zap.Error(err))
	return status.Error(codes.Internal, "internal error; it was logged")
}

func domainStatus(err error) error {
	var de *domain.Error
	if !errors.As(err, &de) {
		return status.Error(codes.Internal, err.Error())
	}
	code := map[domain.Kind]codes.Code{
		domain.Invalid:   codes.InvalidArgument,
		domain.Forbidden: codes.PermissionDenied,
		domain.NotFound:  codes.NotFound,
		domain.Conflict:  codes.FailedPrecondition,
		// 409 through the gateway.
		domain.AlreadyExists: codes.AlreadyExists,
	}[de.Kind]
	st := status.New(code, de.Error())
	if de.Field != "" && code == codes.InvalidArgument {
		if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: de.Field, Description: de.Message},
		}}); err == nil {
			st = d
		}
	}
	return st.Err()
}

// CreateThread implements ThreadCommandService.
func (g *GRPC) CreateThread(ctx context.Context, r *falconv1.CreateThreadRequest) (*falconv1.CreateThreadResponse, error) {
	if err := ensureRequestID(&r.RequestId); err != nil {
		return nil, err
	}
	// A thread is named by the request that creates it, so a retried
	// create reaches the same thread and is recognised.
	threadID := r.RequestId
	return execute(ctx, g, threadID, &r.RequestId,
		domain.CreateThread{Title: r.Title, Remarks: r.Remarks, MemberIDs: r.MemberIds, AdministratorIDs: r.AdministratorIds},
		func(res domain.Result) *falconv1.CreateThreadResponse {
			return &falconv1.CreateThreadResponse{ThreadId: threadID, Version: res.Version, ThreadNumber: res.Number}
		})
}

// UpdateThread implements ThreadCommandService.
func (g *GRPC) UpdateThread(ctx context.Context, r *falconv1.UpdateThreadRequest) (*falconv1.UpdateThreadResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.UpdateThread{Title: r.Title, Remarks: r.Remarks},
		func(res domain.Result) *falconv1.UpdateThreadResponse {
			return &falconv1.UpdateThreadResponse{Version: res.Version}
		})
}

// DestroyThread implements ThreadCommandService.
func (g *GRPC) DestroyThread(ctx context.Context, r *falconv1.DestroyThreadRequest) (*falconv1.DestroyThreadResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.DestroyThread{},
		func(res domain.Result) *falconv1.DestroyThreadResponse {
			return &falconv1.DestroyThreadResponse{Version: res.Version}
		})
}

// AddMembers implements ThreadCommandService.
func (g *GRPC) AddMembers(ctx context.Context, r *falconv1.AddMembersRequest) (*falconv1.AddMembersResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.AddMembers{AccountIDs: r.AccountIds},
		func(res domain.Result) *falconv1.AddMembersResponse {
			return &falconv1.AddMembersResponse{Version: res.Version}
		})
}

// RemoveMembers implements ThreadCommandService.
func (g *GRPC) RemoveMembers(ctx context.Context, r *falconv1.RemoveMembersRequest) (*falconv1.RemoveMembersResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.RemoveMembers{AccountIDs: r.AccountIds},
		func(res domain.Result) *falconv1.RemoveMembersResponse {
			return &falconv1.RemoveMembersResponse{Version: res.Version}
		})
}

// AddAdministrators implements ThreadCommandService.
func (g *GRPC) AddAdministrators(ctx context.Context, r *falconv1.AddAdministratorsRequest) (*falconv1.AddAdministratorsResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.AddAdministrators{AccountIDs: r.AccountIds},
		func(res domain.Result) *falconv1.AddAdministratorsResponse {
			return &falconv1.AddAdministratorsResponse{Version: res.Version}
		})
}

// RemoveAdministrators implements ThreadCommandService.
func (g *GRPC) RemoveAdministrators(ctx context.Context, r *falconv1.RemoveAdministratorsRequest) (*falconv1.RemoveAdministratorsResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.RemoveAdministrators{AccountIDs: r.AccountIds},
		func(res domain.Result) *falconv1.RemoveAdministratorsResponse {
			return &falconv1.RemoveAdministratorsResponse{Version: res.Version}
		})
}

// PostMessage implements ThreadCommandService.
func (g *GRPC) PostMessage(ctx context.Context, r *falconv1.PostMessageRequest) (*falconv1.PostMessageResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	if err := canonicalOptional("reply_to_message_id", &r.ReplyToMessageId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId,
		domain.PostMessage{Body: r.Body, ReplyToMessageID: r.ReplyToMessageId, MentionAccountIDs: r.MentionAccountIds},
		func(res domain.Result) *falconv1.PostMessageResponse {
			return &falconv1.PostMessageResponse{MessageId: res.MessageID, Version: res.Version, MessageNumber: res.Number}
		})
}

// EditMessage implements ThreadCommandService.
func (g *GRPC) EditMessage(ctx context.Context, r *falconv1.EditMessageRequest) (*falconv1.EditMessageResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	if err := canonical("message_id", &r.MessageId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.EditMessage{MessageID: r.MessageId, Body: r.Body},
		func(res domain.Result) *falconv1.EditMessageResponse {
			return &falconv1.EditMessageResponse{Version: res.Version}
		})
}

// DeleteMessage implements ThreadCommandService.
func (g *GRPC) DeleteMessage(ctx context.Context, r *falconv1.DeleteMessageRequest) (*falconv1.DeleteMessageResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	if err := canonical("message_id", &r.MessageId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.DeleteMessage{MessageID: r.MessageId},
		func(res domain.Result) *falconv1.DeleteMessageResponse {
			return &falconv1.DeleteMessageResponse{Version: res.Version}
		})
}

// MarkRead implements ThreadCommandService.
func (g *GRPC) MarkRead(ctx context.Context, r *falconv1.MarkReadRequest) (*falconv1.MarkReadResponse, error) {
	if err := canonical("thread_id", &r.ThreadId); err != nil {
		return nil, err
	}
	if err := canonical("message_id", &r.MessageId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.MarkRead{MessageID: r.MessageId},
		func(res domain.Result) *falconv1.MarkReadResponse {
			return &falconv1.MarkReadResponse{Version: res.Version}
		})
}
