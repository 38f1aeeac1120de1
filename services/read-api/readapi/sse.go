package readapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/falcon-chat/falcon/libs/auth"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// EventStreamPath is the REST form of Subscribe, as server-sent events.
const EventStreamPath = "/v1/events:stream"

// sseWriteTimeout bounds one write of the event stream: a client that reads
// nothing for this long is cut off (the server's write timeout does not
// apply to a stream).
const sseWriteTimeout = 30 * time.Second

// sseRetryMs is the reconnection delay the stream asks browsers for.
const sseRetryMs = 1000

// registerEventStream serves GET /v1/events:stream on the gateway: a
// Subscribe call through the gateway's connection (so identity, limits and
// metrics are the gRPC service's), written as server-sent events.
func registerEventStream(_ context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
	client := falconv1.NewThreadQueryServiceClient(conn)
	return mux.HandlePath(http.MethodGet, EventStreamPath, func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		serveEvents(w, r, mux, client)
	})
}

// serveEvents writes one SSE message per event: id the cursor, event the
// type, data the AccountEvent as JSON. The cursor comes from Last-Event-ID
// (what a browser's EventSource sends when it reconnects) or ?cursor=.
func serveEvents(w http.ResponseWriter, r *http.Request, mux *runtime.ServeMux, client falconv1.ThreadQueryServiceClient) {
	q := r.URL.Query()
	cursor := r.Header.Get("Last-Event-ID")
	if cursor == "" {
		cursor = q.Get("cursor")
	}
	identityFromQuery(r, q)
	ctx, err := runtime.AnnotateContext(r.Context(), mux, r, falconv1.ThreadQueryService_Subscribe_FullMethodName,
		runtime.WithHTTPPathPattern(EventStreamPath))
	if err != nil {
		writeStreamError(w, status.Error(codes.InvalidArgument, "the request's headers could not be read"))
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := client.Subscribe(ctx, &falconv1.SubscribeRequest{Cursor: cursor})
	if err == nil {
		// The server sends its headers once the subscription is on; an
		// error before that is the answer instead of a stream.
		var md map[string][]string
		if md, err = st.Header(); err == nil && md == nil {
			_, err = st.Recv()
		}
	}
	if err != nil {
		writeStreamError(w, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(fmt.Appendf(nil, "retry: %d\n\n", sseRetryMs)) {
		return
	}
	json := protojson.MarshalOptions{EmitDefaultValues: true}
	for {
		ev, err := st.Recv()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				write(endMessage(err, st.Trailer().Get(CursorTrailer)))
			}
			return
		}
		var msg []byte
		if ev.Type == HeartbeatType {
			msg = []byte(": heartbeat\n")
			if ev.Cursor != "" {
				msg = fmt.Appendf(msg, "id: %s\n", ev.Cursor)
			}
			msg = append(msg, '\n')
		} else {
			data, err := json.Marshal(ev)
			if err != nil {
				return
			}
			msg = fmt.Appendf(nil, "id: %s\nevent: %s\ndata: %s\n\n", ev.Cursor, ev.Type, bytes.ReplaceAll(data, []byte("\n"), nil))
		}
		if !write(msg) {
			return
		}
	}
}

// identityFromQuery lets a browser's EventSource, which cannot set headers,
// say who it is in the URL: ?access_token= stands for an Authorization
// bearer token, ?account= for X-Account-Id (which only --auth=dev reads).
// A header, when present, wins. Tokens in URLs can reach proxy logs: keep
// their lifetime short (--jwt-max-lifetime).
func identityFromQuery(r *http.Request, q url.Values) {
	if t := q.Get("access_token"); t != "" && r.Header.Get("Authorization") == "" {
		r.Header.Set("Authorization", "Bearer "+t)
	}
	if a := q.Get("account"); a != "" && r.Header.Get(auth.AccountHeader) == "" {
		r.Header.Set(auth.AccountHeader, a)
	}
}

// endMessage is the last message of a stream the server ended: event
// "end", the status as data, and the cursor to resume from as its id (a
// browser reconnects with it as Last-Event-ID).
func endMessage(err error, cursors []string) []byte {
	var msg []byte
	if len(cursors) > 0 && cursors[0] != "" {
		msg = fmt.Appendf(msg, "id: %s\n", cursors[0])
	}
	s := status.Convert(err)
	data, _ := protojson.Marshal(&falconv1.StreamEnd{Code: code.Code(s.Code()).String(), Message: s.Message()})
	return fmt.Appendf(msg, "event: end\ndata: %s\n\n", data)
}

// writeStreamError answers a subscription refused before it started: the
// status as JSON, with the gateway's HTTP code, except a cursor too old:
// 410 Gone (reload, then subscribe without one).
func writeStreamError(w http.ResponseWriter, err error) {
	s := status.Convert(err)
	code := runtime.HTTPStatusFromCode(s.Code())
	if s.Code() == codes.OutOfRange {
		code = http.StatusGone
	}
	body, _ := protojson.Marshal(s.Proto())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
