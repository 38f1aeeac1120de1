package writeapi

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/domain"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// forwardedHeader marks a command another replica forwarded, so it is never
// forwarded twice.
const forwardedHeader = "x-falcon-forwarded"

// GRPC is the transport of ThreadCommandService: it maps requests to domain
// commands, forwards those of partitions owned elsewhere, and maps results
// and errors back.
type GRPC struct {
	falconv1.UnimplementedThreadCommandServiceServer
	svc     *Service
	log     *zap.Logger
	metrics *metrics

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newGRPC(svc *Service, log *zap.Logger, m *metrics) *GRPC {
	return &GRPC{svc: svc, log: log, metrics: m, conns: map[string]*grpc.ClientConn{}}
}

func (g *GRPC) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		_ = c.Close()
	}
}

func (g *GRPC) client(addr string) (falconv1.ThreadCommandServiceClient, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.conns[addr]
	if !ok {
		var err error
		c, err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		g.conns[addr] = c
	}
	return falconv1.NewThreadCommandServiceClient(c), nil
}

// execute runs one command: locally, or forwarded to the owner with the
// caller's metadata (its identity is checked again there).
func execute[Resp any](ctx context.Context, g *GRPC, threadID string, requestID *string, cmd domain.Command,
	forward func(context.Context, falconv1.ThreadCommandServiceClient) (Resp, error),
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
	c := Command{ThreadID: threadID, ActorID: actor, RequestID: *requestID, Cmd: cmd,
		Forwarded: len(md.Get(forwardedHeader)) > 0}
	res, addr, err := g.svc.Execute(ctx, c)
	if err != nil {
		return zero, g.status(err)
	}
	if addr == "" {
		return answer(res), nil
	}
	client, err := g.client(addr)
	if err != nil {
		g.metrics.forwarded.WithLabelValues("error").Inc()
		return zero, status.Errorf(codes.Unavailable, "cannot reach the thread's owner at %s: %v; retry with the same request_id", addr, err)
	}
	out := md.Copy()
	out.Set(forwardedHeader, "1")
	resp, err := forward(metadata.NewOutgoingContext(ctx, out), client)
	if err != nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
			g.svc.invalidateRoutes()
		}
		g.metrics.forwarded.WithLabelValues(status.Code(err).String()).Inc()
		return zero, err
	}
	g.metrics.forwarded.WithLabelValues("OK").Inc()
	return resp, nil
}

// ensureRequestID checks the client's request id, or picks one: every
// command carries one, so an internal retry can never apply it twice.
func ensureRequestID(id *string) error {
	if *id == "" {
		*id = ulid.Make().String()
		return nil
	}
	if err := domain.ValidateULID("request_id", *id); err != nil {
		return domainStatus(err)
	}
	return nil
}

func validThread(id string) error {
	if err := domain.ValidateULID("thread_id", id); err != nil {
		return domainStatus(err)
	}
	return nil
}

// status maps an error of the application layer to a gRPC status.
func (g *GRPC) status(err error) error {
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
	g.log.Error("command failed", zap.Error(err))
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

type client = falconv1.ThreadCommandServiceClient

func (g *GRPC) CreateThread(ctx context.Context, r *falconv1.CreateThreadRequest) (*falconv1.CreateThreadResponse, error) {
	if err := ensureRequestID(&r.RequestId); err != nil {
		return nil, err
	}
	// A thread is named by the request that creates it, so a retried
	// create reaches the same thread and is recognised.
	threadID := r.RequestId
	return execute(ctx, g, threadID, &r.RequestId,
		domain.CreateThread{Title: r.Title, Remarks: r.Remarks, MemberIDs: r.MemberIds, AdministratorIDs: r.AdministratorIds},
		func(ctx context.Context, c client) (*falconv1.CreateThreadResponse, error) {
			return c.CreateThread(ctx, r)
		},
		func(res domain.Result) *falconv1.CreateThreadResponse {
			return &falconv1.CreateThreadResponse{ThreadId: threadID, Version: res.Version}
		})
}

func (g *GRPC) UpdateThread(ctx context.Context, r *falconv1.UpdateThreadRequest) (*falconv1.UpdateThreadResponse, error) {
	if err := validThread(r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.UpdateThread{Title: r.Title, Remarks: r.Remarks},
		func(ctx context.Context, c client) (*falconv1.UpdateThreadResponse, error) {
			return c.UpdateThread(ctx, r)
		},
		func(res domain.Result) *falconv1.UpdateThreadResponse {
			return &falconv1.UpdateThreadResponse{Version: res.Version}
		})
}

func (g *GRPC) DestroyThread(ctx context.Context, r *falconv1.DestroyThreadRequest) (*falconv1.DestroyThreadResponse, error) {
	if err := validThread(r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.DestroyThread{},
		func(ctx context.Context, c client) (*falconv1.DestroyThreadResponse, error) {
			return c.DestroyThread(ctx, r)
		},
		func(res domain.Result) *falconv1.DestroyThreadResponse {
			return &falconv1.DestroyThreadResponse{Version: res.Version}
		})
}

func (g *GRPC) AddMembers(ctx context.Context, r *falconv1.AddMembersRequest) (*falconv1.AddMembersResponse, error) {
	if err := validThread(r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.AddMembers{AccountIDs: r.AccountIds},
		func(ctx context.Context, c client) (*falconv1.AddMembersResponse, error) { return c.AddMembers(ctx, r) },
		func(res domain.Result) *falconv1.AddMembersResponse {
			return &falconv1.AddMembersResponse{Version: res.Version}
		})
}

func (g *GRPC) RemoveMembers(ctx context.Context, r *falconv1.RemoveMembersRequest) (*falconv1.RemoveMembersResponse, error) {
	if err := validThread(r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.RemoveMembers{AccountIDs: r.AccountIds},
		func(ctx context.Context, c client) (*falconv1.RemoveMembersResponse, error) {
			return c.RemoveMembers(ctx, r)
		},
		func(res domain.Result) *falconv1.RemoveMembersResponse {
			return &falconv1.RemoveMembersResponse{Version: res.Version}
		})
}

func (g *GRPC) AddAdministrators(ctx context.Context, r *falconv1.AddAdministratorsRequest) (*falconv1.AddAdministratorsResponse, error) {
	if err := validThread(r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.AddAdministrators{AccountIDs: r.AccountIds},
		func(ctx context.Context, c client) (*falconv1.AddAdministratorsResponse, error) {
			return c.AddAdministrators(ctx, r)
		},
		func(res domain.Result) *falconv1.AddAdministratorsResponse {
			return &falconv1.AddAdministratorsResponse{Version: res.Version}
		})
}

func (g *GRPC) RemoveAdministrators(ctx context.Context, r *falconv1.RemoveAdministratorsRequest) (*falconv1.RemoveAdministratorsResponse, error) {
	if err := validThread(r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.RemoveAdministrators{AccountIDs: r.AccountIds},
		func(ctx context.Context, c client) (*falconv1.RemoveAdministratorsResponse, error) {
			return c.RemoveAdministrators(ctx, r)
		},
		func(res domain.Result) *falconv1.RemoveAdministratorsResponse {
			return &falconv1.RemoveAdministratorsResponse{Version: res.Version}
		})
}

func (g *GRPC) PostMessage(ctx context.Context, r *falconv1.PostMessageRequest) (*falconv1.PostMessageResponse, error) {
	if err := validThread(r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId,
		domain.PostMessage{Body: r.Body, ReplyToMessageID: r.ReplyToMessageId, MentionAccountIDs: r.MentionAccountIds},
		func(ctx context.Context, c client) (*falconv1.PostMessageResponse, error) {
			return c.PostMessage(ctx, r)
		},
		func(res domain.Result) *falconv1.PostMessageResponse {
			return &falconv1.PostMessageResponse{MessageId: res.MessageID, Version: res.Version}
		})
}

func (g *GRPC) EditMessage(ctx context.Context, r *falconv1.EditMessageRequest) (*falconv1.EditMessageResponse, error) {
	if err := validThread(r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.EditMessage{MessageID: r.MessageId, Body: r.Body},
		func(ctx context.Context, c client) (*falconv1.EditMessageResponse, error) {
			return c.EditMessage(ctx, r)
		},
		func(res domain.Result) *falconv1.EditMessageResponse {
			return &falconv1.EditMessageResponse{Version: res.Version}
		})
}

func (g *GRPC) DeleteMessage(ctx context.Context, r *falconv1.DeleteMessageRequest) (*falconv1.DeleteMessageResponse, error) {
	if err := validThread(r.ThreadId); err != nil {
		return nil, err
	}
	return execute(ctx, g, r.ThreadId, &r.RequestId, domain.DeleteMessage{MessageID: r.MessageId},
		func(ctx context.Context, c client) (*falconv1.DeleteMessageResponse, error) {
			return c.DeleteMessage(ctx, r)
		},
		func(res domain.Result) *falconv1.DeleteMessageResponse {
			return &falconv1.DeleteMessageResponse{Version: res.Version}
		})
}
