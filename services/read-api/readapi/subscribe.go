package readapi

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/falcon-chat/falcon/libs/auth"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// CursorTrailer is the trailer that carries, when a stream ends, the cursor
// to resume from (also in the status's ErrorInfo metadata "cursor").
const CursorTrailer = "falcon-cursor"

// HeartbeatType is the type of the AccountEvent sent when a stream has been
// silent for the heartbeat interval: it carries only a cursor.
const HeartbeatType = "Heartbeat"

// Subscribe streams the caller's events until the client leaves, falls too
// far behind or the replica shuts down; each ending but the client's own
// carries the cursor to resume from.
func (a *ReadAPI) Subscribe(r *falconv1.SubscribeRequest, ss grpc.ServerStreamingServer[falconv1.AccountEvent]) error {
	ctx := ss.Context()
	account, ok := auth.Account(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "no caller identity")
	}
	if a.hub == nil {
		return status.Error(codes.Unimplemented, "this read-api replica serves no event stream (it has no --kafka-brokers)")
	}
	sub, err := a.hub.Subscribe(account, r.Cursor)
	if err != nil {
		return err
	}
	defer sub.Close()
	// The headers tell the client (and the REST gateway) the stream is on.
	if err := ss.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	var last []byte // the cursor last sent
	// Events go out as they were encoded for every subscriber, plus this
	// one's cursor: in the unknown fields of an empty message, which the
	// codec writes as they are.
	var buf []byte
	out := &emptypb.Empty{}
	for {
		ev, err := sub.Next(ctx, a.hub.Heartbeat())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			ss.SetTrailer(metadata.Pairs(CursorTrailer, sub.Cursor()))
			return err
		}
		if ev.IsZero() {
			// Silent: a heartbeat, which moves the cursor on as well.
			hb := &falconv1.AccountEvent{Type: HeartbeatType, Cursor: sub.Cursor()}
			if hb.Cursor == string(last) {
				hb.Cursor = ""
			} else {
				last = append(last[:0], hb.Cursor...)
			}
			if err := ss.Send(hb); err != nil {
				return err
			}
			continue
		}
		last = ev.AppendCursor(last[:0])
		buf = ev.AppendWire(buf[:0])
		out.ProtoReflect().SetUnknown(buf)
		if err := ss.SendMsg(out); err != nil {
			return err
		}
	}
}
