package writeapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/tracing"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// idleConnection is how long a connection to another replica stays open
// unused: replicas that left the group are not dialled again, and their
// connections go at the next forward after this.
const idleConnection = 5 * time.Minute

// grpcForwarder is the Forwarder over gRPC: it sends a command to the owner
// as the same RPC the client made, with the client's metadata (so the owner
// checks its identity again) and the forwarded mark.
type grpcForwarder struct {
	metrics  *metrics
	replicas replicaAuth
	creds    credentials.TransportCredentials
	tracer   trace.TracerProvider

	mu    sync.Mutex
	conns map[string]*forwardConn
}

type forwardConn struct {
	conn *grpc.ClientConn
	used time.Time
}

func newGRPCForwarder(m *metrics, replicas replicaAuth, creds credentials.TransportCredentials, tp trace.TracerProvider) *grpcForwarder {
	return &grpcForwarder{metrics: m, replicas: replicas, creds: creds, tracer: tp, conns: map[string]*forwardConn{}}
}

// client returns a client of addr, and closes connections unused for
// longer than idleConnection.
func (f *grpcForwarder) client(addr string) (*grpc.ClientConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for a, c := range f.conns {
		if a != addr && now.Sub(c.used) > idleConnection {
			_ = c.conn.Close()
			delete(f.conns, a)
		}
	}
	c, ok := f.conns[addr]
	if !ok {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(f.creds),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(f.tracer), otelgrpc.WithPropagators(tracing.Propagator()))))
		if err != nil {
			return nil, err
		}
		c = &forwardConn{conn: conn}
		f.conns[addr] = c
	}
	c.used = now
	return c.conn, nil
}

func (f *grpcForwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for a, c := range f.conns {
		_ = c.conn.Close()
		delete(f.conns, a)
	}
}

// Forward runs c on the replica at addr.
func (f *grpcForwarder) Forward(ctx context.Context, addr string, c Command) (Outcome, error) {
	conn, err := f.client(addr)
	if err != nil {
		f.metrics.forwarded.WithLabelValues("error").Inc()
		return Outcome{}, status.Errorf(codes.Unavailable, "cannot reach the thread's owner at %s: %v; retry with the same request_id", addr, err)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	out := md.Copy()
	out.Delete(forwardedHeader)
	// The owner puts the same correlation id in the events.
	out.Set(CorrelationHeader, c.CorrelationID)
	if token := f.replicas.token(time.Now()); token != "" {
		out.Set(forwardedHeader, token)
	}
	res, err := send(metadata.NewOutgoingContext(ctx, out), conn, c)
	f.metrics.forwarded.WithLabelValues(status.Code(err).String()).Inc()
	return res, err
}

// send makes the RPC of c's command; the owner's answer says when it
// committed.
func send(ctx context.Context, conn grpc.ClientConnInterface, c Command) (Outcome, error) {
	var header metadata.MD
	res, err := sendCommand(ctx, conn, c, grpc.Header(&header))
	return Outcome{Result: res, Committed: committedAt(header)}, err
}

func sendCommand(ctx context.Context, conn grpc.ClientConnInterface, c Command, opt grpc.CallOption) (domain.Result, error) {
	if imp, ok := c.Cmd.(domain.Import); ok {
		r, err := falconv1.NewImportServiceClient(conn).Import(ctx, importRequest(imp), opt)
		return domain.Result{Version: r.GetVersion(), Import: importResultOf(r)}, err
	}
	client := falconv1.NewThreadCommandServiceClient(conn)
	tid, req := c.ThreadID, c.RequestID
	version := func(v uint64, err error) (domain.Result, error) { return domain.Result{Version: v}, err }
	switch cmd := c.Cmd.(type) {
	case domain.CreateThread:
		r, err := client.CreateThread(ctx, &falconv1.CreateThreadRequest{Title: cmd.Title, Remarks: cmd.Remarks,
			MemberIds: cmd.MemberIDs, AdministratorIds: cmd.AdministratorIDs, RequestId: req}, opt)
		return domain.Result{Version: r.GetVersion(), Number: r.GetThreadNumber()}, err
	case domain.UpdateThread:
		r, err := client.UpdateThread(ctx, &falconv1.UpdateThreadRequest{ThreadId: tid, Title: cmd.Title, Remarks: cmd.Remarks, RequestId: req}, opt)
		return version(r.GetVersion(), err)
	case domain.DestroyThread:
		r, err := client.DestroyThread(ctx, &falconv1.DestroyThreadRequest{ThreadId: tid, RequestId: req}, opt)
		return version(r.GetVersion(), err)
	case domain.AddMembers:
		r, err := client.AddMembers(ctx, &falconv1.AddMembersRequest{ThreadId: tid, AccountIds: cmd.AccountIDs, RequestId: req}, opt)
		return version(r.GetVersion(), err)
	case domain.RemoveMembers:
		r, err := client.RemoveMembers(ctx, &falconv1.RemoveMembersRequest{ThreadId: tid, AccountIds: cmd.AccountIDs, RequestId: req}, opt)
		return version(r.GetVersion(), err)
	case domain.AddAdministrators:
		r, err := client.AddAdministrators(ctx, &falconv1.AddAdministratorsRequest{ThreadId: tid, AccountIds: cmd.AccountIDs, RequestId: req}, opt)
		return version(r.GetVersion(), err)
	case domain.RemoveAdministrators:
		r, err := client.RemoveAdministrators(ctx, &falconv1.RemoveAdministratorsRequest{ThreadId: tid, AccountIds: cmd.AccountIDs, RequestId: req}, opt)
		return version(r.GetVersion(), err)
	case domain.PostMessage:
		r, err := client.PostMessage(ctx, &falconv1.PostMessageRequest{ThreadId: tid, Body: cmd.Body,
			ReplyToMessageId: cmd.ReplyToMessageID, MentionAccountIds: cmd.MentionAccountIDs, RequestId: req}, opt)
		return domain.Result{Version: r.GetVersion(), MessageID: r.GetMessageId(), Number: r.GetMessageNumber()}, err
	case domain.EditMessage:
		r, err := client.EditMessage(ctx, &falconv1.EditMessageRequest{ThreadId: tid, MessageId: cmd.MessageID, Body: cmd.Body, RequestId: req}, opt)
		return version(r.GetVersion(), err)
	case domain.DeleteMessage:
		r, err := client.DeleteMessage(ctx, &falconv1.DeleteMessageRequest{ThreadId: tid, MessageId: cmd.MessageID, RequestId: req}, opt)
		return version(r.GetVersion(), err)
	case domain.MarkRead:
		r, err := client.MarkRead(ctx, &falconv1.MarkReadRequest{ThreadId: tid, MessageId: cmd.MessageID, RequestId: req}, opt)
		return version(r.GetVersion(), err)
	}
	return domain.Result{}, fmt.Errorf("no RPC forwards a %T", c.Cmd)
}
