// Package readapi serves ThreadQueryService from the read models. Only
// members read a thread; min_version gives read-your-writes by waiting,
// bounded, for the read model to catch up.
package readapi

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/flagenv"
	falconlog "github.com/falcon-chat/falcon/libs/logging"
	"github.com/falcon-chat/falcon/libs/readmodel"
	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/retry"
	"github.com/falcon-chat/falcon/libs/server"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
	"github.com/falcon-chat/falcon/services/read-api/stream"
)

// Page sizes of the list queries.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Config is read-api's configuration block.
type Config struct {
	Store    string
	GRPCAddr string
	HTTPAddr string
	// MinVersionWait bounds how long a query with min_version waits for
	// the read model to reach it.
	MinVersionWait time.Duration
	// Kafka is the event log the stream (Subscribe) follows; without
	// brokers the replica serves no stream.
	Kafka  eventlog.Config
	Stream stream.Config
	// AuditAccounts may read every thread, member or not (falcon migrate
	// verify); none by default.
	AuditAccounts flagenv.List
}

// RegisterFlags adds read-api's flags to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Store, "store", "pebble:///var/lib/falcon/read-store", "read store URL: pebble:///path or hbase+thrift://host:port")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", "127.0.0.1:9092", "gRPC listen address")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8083", "HTTP listen address (REST, health, metrics)")
	fs.DurationVar(&c.MinVersionWait, "min-version-wait", 2*time.Second, "longest a query waits for min_version")
	fs.Var(&c.AuditAccounts, "audit-accounts", "comma-separated accounts that may read every thread, member or not (falcon migrate verify); empty: nobody")
	c.Kafka.RegisterFlags(fs)
	c.Stream.RegisterFlags(fs)
}

// Validate checks the block before anything connects.
func (c *Config) Validate() error {
	if len(c.Kafka.Brokers) == 0 {
		return nil
	}
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	return c.Stream.Validate()
}

// ReadAPI is the read-api component.
type ReadAPI struct {
	falconv1.UnimplementedThreadQueryServiceServer
	cfg        Config
	log        *zap.Logger
	store      readstore.Store
	current    atomic.Pointer[readmodel.Reader]
	status     *retry.Status
	waits      waitLimit
	generation atomic.Uint64
	genGauge   prometheus.GaugeFunc
	// hub serves Subscribe; nil without Kafka brokers.
	hub   *stream.Hub
	kafka *stream.Kafka
}

// New serves queries from store, reading the generation of read-model
// tables the store's pointer names (a rebuild switches it while serving).
func New(cfg Config, store readstore.Store, log *zap.Logger, reg prometheus.Registerer) (*ReadAPI, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Kafka.Metrics == nil {
		cfg.Kafka.Metrics = eventlog.ClientMetrics(reg)
	}
	if cfg.MinVersionWait <= 0 {
		cfg.MinVersionWait = 2 * time.Second
	}
	a := &ReadAPI{cfg: cfg, log: log.With(zap.String("component", "read-api")), store: store,
		status: retry.NewStatus(errors.New("the read store has not answered yet"))}
	a.current.Store(readmodel.NewReader(store))
	a.genGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "falcon_read_model_generation",
		Help: "Generation of read-model tables read-api serves from."}, func() float64 { return float64(a.generation.Load()) })
	reg.MustRegister(a.genGauge)
	if len(cfg.Kafka.Brokers) > 0 {
		a.kafka = stream.NewKafka(cfg.Kafka, "read-api")
		a.hub = stream.NewHub(cfg.Stream, a.kafka, func(ctx context.Context, id string) (readmodel.Thread, bool, error) {
			return a.reader().Thread(ctx, id)
		}, log, reg)
	}
	return a, nil
}

func (a *ReadAPI) reader() *readmodel.Reader { return a.current.Load() }

// RegisterGRPC serves ThreadQueryService on s.
func (a *ReadAPI) RegisterGRPC(s grpc.ServiceRegistrar) {
	falconv1.RegisterThreadQueryServiceServer(s, a)
}

// Gateway returns ThreadQueryService's REST routes.
func (a *ReadAPI) Gateway() []server.RegisterFunc {
	return []server.RegisterFunc{func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return falconv1.RegisterThreadQueryServiceHandlerClient(ctx, mux, falconv1.NewThreadQueryServiceClient(conn))
	}, registerEventStream}
}

// Ready is nil while the read store answers (the generation pointer, read
// every PollInterval, says so) and the stream has read the recent events.
func (a *ReadAPI) Ready() error {
	if err := a.status.Err(); err != nil {
		return err
	}
	if a.hub != nil {
		return a.hub.Ready()
	}
	return nil
}

// EndStreams ends the subscriptions with their cursors: the servers can
// then drain.
func (a *ReadAPI) EndStreams() {
	if a.hub != nil {
		a.hub.EndStreams()
	}
}

// Run follows the generation pointer until ctx ends: after a rebuild,
// queries move to the new tables. A store that does not answer makes
// read-api not ready until it does.
func (a *ReadAPI) Run(ctx context.Context) error {
	if a.hub == nil {
		return a.followGeneration(ctx)
	}
	defer a.kafka.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.followGeneration(gctx) })
	g.Go(func() error { return a.hub.Run(gctx) })
	return g.Wait()
}

func (a *ReadAPI) followGeneration(ctx context.Context) error {
	t := time.NewTicker(readmodel.PollInterval)
	defer t.Stop()
	failing := false
	for {
		st, err := readmodel.LoadState(ctx, a.store)
		if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("read store: %w", err)
			if !failing {
				a.log.Warn("the read store does not answer; not ready until it does", zap.Error(err))
			}
			a.status.Set(err)
			failing = true
		} else if err == nil {
			if failing {
				a.log.Info("the read store answers again")
			}
			a.status.Set(nil)
			failing = false
			if uint64(st.Current) != a.generation.Load() {
				a.current.Store(readmodel.NewReader(readmodel.AtGeneration(a.store, st.Current)))
				a.generation.Store(uint64(st.Current))
				a.log.Info("serving read-model generation", zap.Uint64("generation", uint64(st.Current)))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// GetThread answers one thread, to its members.
func (a *ReadAPI) GetThread(ctx context.Context, r *falconv1.GetThreadRequest) (*falconv1.GetThreadResponse, error) {
	t, err := a.readableThread(ctx, &r.ThreadId, r.MinVersion)
	if err != nil {
		return nil, err
	}
	account, _ := auth.Account(ctx)
	return &falconv1.GetThreadResponse{Thread: threadProto(t, account)}, nil
}

// MaxListScan bounds the threads one ListThreads call reads for a filter
// or for the caller's totals.
const MaxListScan = 1000

// ListThreads answers the caller's threads, most recent activity first,
// with the caller's read state of each; the first page carries its totals.
func (a *ReadAPI) ListThreads(ctx context.Context, r *falconv1.ListThreadsRequest) (*falconv1.ListThreadsResponse, error) {
	account, ok := auth.Account(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no caller identity")
	}
	size, err := pageSize(r.PageSize)
	if err != nil {
		return nil, err
	}
	var keep func(readmodel.Summary) bool
	switch r.Filter {
	case "":
	case "mentions":
		keep = func(s readmodel.Summary) bool { return s.Unread.Mentions > 0 }
	default:
		return nil, invalidField("filter", fmt.Sprintf("unknown filter %q: leave it empty for every thread, or use mentions", r.Filter))
	}
	var cursor []byte
	if r.PageToken != "" {
		if cursor, err = base64.RawURLEncoding.DecodeString(r.PageToken); err != nil {
			return nil, badToken()
		}
	}
	listed, next, err := a.listThreads(ctx, account, cursor, size, keep)
	if errors.Is(err, readmodel.ErrBadCursor) {
		return nil, badToken()
	}
	if err != nil {
		return nil, a.internal(ctx, err)
	}
	resp := &falconv1.ListThreadsResponse{}
	if next != nil {
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString(next)
	}
	for _, l := range listed {
		resp.Threads = append(resp.Threads, summaryProto(l.Summary, account))
	}
	if cursor == nil {
		// The whole list is in hand when an unfiltered first page is the
		// last: no second read for the totals.
		if keep == nil && next == nil {
			for _, l := range listed {
				resp.TotalUnreadCount += l.Summary.Unread.Messages
				resp.TotalMentionCount += l.Summary.Unread.Mentions
			}
		} else {
			total, err := a.reader().AccountUnread(ctx, account, MaxListScan)
			if err != nil {
				return nil, a.internal(ctx, err)
			}
			resp.TotalUnreadCount, resp.TotalMentionCount = total.Messages, total.Mentions
		}
	}
	return resp, nil
}

// listThreads returns a page of the account's threads after cursor, those
// keep keeps (nil: all), and the cursor of the next page (nil: none). A
// filter reads at most MaxListScan threads a call.
func (a *ReadAPI) listThreads(ctx context.Context, account string, cursor []byte, size int, keep func(readmodel.Summary) bool) ([]readmodel.Listed, []byte, error) {
	if keep == nil {
		listed, err := a.reader().AccountThreads(ctx, account, cursor, size+1)
		if err != nil || len(listed) <= size {
			return listed, nil, err
		}
		return listed[:size], listed[size-1].Cursor, nil
	}
	var out []readmodel.Listed
	for scanned := 0; scanned < MaxListScan; {
		batch, err := a.reader().AccountThreads(ctx, account, cursor, min(4*size, MaxListScan-scanned))
		if err != nil || len(batch) == 0 {
			return out, nil, err
		}
		for _, l := range batch {
			scanned++
			cursor = l.Cursor
			if keep(l.Summary) {
				out = append(out, l)
				if len(out) == size {
					return out, cursor, nil
				}
			}
		}
	}
	return out, cursor, nil
}

// ListMessages pages through a thread's messages either way, to members.
func (a *ReadAPI) ListMessages(ctx context.Context, r *falconv1.ListMessagesRequest) (*falconv1.ListMessagesResponse, error) {
	size, err := pageSize(r.PageSize)
	if err != nil {
		return nil, err
	}
	newestFirst := r.Order == falconv1.MessageOrder_MESSAGE_ORDER_NEWEST_FIRST
	if r.Order != falconv1.MessageOrder_MESSAGE_ORDER_UNSPECIFIED && r.Order != falconv1.MessageOrder_MESSAGE_ORDER_OLDEST_FIRST && !newestFirst {
		return nil, invalidField("order", fmt.Sprintf("unknown order %d: use MESSAGE_ORDER_OLDEST_FIRST or MESSAGE_ORDER_NEWEST_FIRST", r.Order))
	}
	var after string
	if r.PageToken != "" {
		if newestFirst, after, err = decodeMessageToken(r.PageToken); err != nil {
			return nil, err
		}
	}
	if err := a.checkReadable(ctx, &r.ThreadId, r.MinVersion); err != nil {
		return nil, err
	}
	msgs, err := a.reader().Messages(ctx, r.ThreadId, after, newestFirst, size+1)
	if err != nil {
		return nil, a.internal(ctx, err)
	}
	resp := &falconv1.ListMessagesResponse{}
	more := len(msgs) > size
	if more {
		msgs = msgs[:size]
	}
	encoded := 0
	for i, m := range messageProtos(msgs) {
		// Long bodies end a page early rather than grow it past the budget;
		// a page always has at least one message, so paging moves on.
		if encoded += m.SizeVT(); encoded > MaxPageBytes && i > 0 {
			more = true
			break
		}
		resp.Messages = append(resp.Messages, m)
	}
	if more {
		resp.NextPageToken = encodeMessageToken(newestFirst, resp.Messages[len(resp.Messages)-1].MessageId)
	}
	if after != "" && len(resp.Messages) > 0 {
		resp.PrevPageToken = encodeMessageToken(!newestFirst, resp.Messages[0].MessageId)
	}
	return resp, nil
}

// GetMessage answers one message, to the thread's members.
func (a *ReadAPI) GetMessage(ctx context.Context, r *falconv1.GetMessageRequest) (*falconv1.GetMessageResponse, error) {
	n, byNumber := numeric(r.MessageId)
	if !byNumber {
		if err := canonical("message_id", &r.MessageId); err != nil {
			return nil, err
		}
	}
	// The thread first: a message number says nothing to a caller who
	// cannot read its thread.
	if err := a.checkReadable(ctx, &r.ThreadId, r.MinVersion); err != nil {
		return nil, err
	}
	if byNumber {
		named, found, err := a.reader().ByNumber(ctx, n)
		if err != nil {
			return nil, a.internal(ctx, err)
		}
		if !found || named.MessageID == "" || named.ThreadID != r.ThreadId {
			return nil, status.Errorf(codes.NotFound, "message %s does not exist in thread %s", r.MessageId, r.ThreadId)
		}
		r.MessageId = named.MessageID
	}
	m, ok, err := a.reader().Message(ctx, r.ThreadId, r.MessageId)
	if err != nil {
		return nil, a.internal(ctx, err)
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "message %s does not exist in thread %s", r.MessageId, r.ThreadId)
	}
	return &falconv1.GetMessageResponse{Message: messageProto(m)}, nil
}

// readableThread returns the thread if the caller may read it (see
// awaitReadable).
func (a *ReadAPI) readableThread(ctx context.Context, id *string, minVersion uint64) (readmodel.Thread, error) {
	var t readmodel.Thread
	err := a.awaitReadable(ctx, id, minVersion, func(ctx context.Context, account string) (readmodel.Access, bool, error) {
		var found bool
		var err error
		t, found, err = a.reader().Thread(ctx, *id)
		return readmodel.Access{Version: t.Version, Destroyed: t.Destroyed, Member: t.IsMember(account)}, found, err
	})
	return t, err
}

// checkReadable is readableThread for callers that need only the answer:
// it reads three cells of the thread row, not the row.
func (a *ReadAPI) checkReadable(ctx context.Context, id *string, minVersion uint64) error {
	return a.awaitReadable(ctx, id, minVersion, func(ctx context.Context, account string) (readmodel.Access, bool, error) {
		return a.reader().Access(ctx, *id, account)
	})
}

// awaitReadable is nil if the caller may read the thread, as load reads
// it. A thread the caller cannot see (not a member, destroyed, or not there
// at all) is NotFound, with one message for all three: no existence
// oracle. With a minVersion the read model has not reached, it waits
// (bounded by MinVersionWait, at most MaxWaitsPerAccount at a time per
// account): a member waits for the version; a caller who cannot see the
// thread waits the whole bound unless the thread becomes visible to it at
// that version (a new member), so that the answer's timing says nothing
// either.
func (a *ReadAPI) awaitReadable(ctx context.Context, id *string, minVersion uint64,
	load func(ctx context.Context, account string) (readmodel.Access, bool, error)) error {
	account, ok := auth.Account(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "no caller identity")
	}
	if n, ok := numeric(*id); ok {
		named, found, err := a.reader().ByNumber(ctx, n)
		if err != nil {
			return a.internal(ctx, err)
		}
		if !found || named.MessageID != "" {
			return notVisible(*id, account)
		}
		*id = named.ThreadID
	} else if err := canonical("thread_id", id); err != nil {
		return err
	}
	t, found, err := load(ctx, account)
	if err != nil {
		return a.internal(ctx, err)
	}
	visible := found && !t.Destroyed && (t.Member || slices.Contains(a.cfg.AuditAccounts, account))
	if minVersion == 0 || visible && t.Version >= minVersion {
		if !visible {
			return notVisible(*id, account)
		}
		return nil
	}
	release, err := a.waits.take(account)
	if err != nil {
		return err
	}
	defer release()
	deadline := time.Now().Add(a.cfg.MinVersionWait)
	pause := time.Millisecond
	for {
		if time.Now().Add(pause).After(deadline) {
			if !visible {
				return notVisible(*id, account)
			}
			return status.Errorf(codes.Unavailable,
				"the read model has version %d of thread %s, not yet min_version %d (waited %s); retry shortly",
				t.Version, *id, minVersion, a.cfg.MinVersionWait)
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 20*time.Millisecond)
		if t, found, err = load(ctx, account); err != nil {
			return a.internal(ctx, err)
		}
		visible = found && !t.Destroyed && t.Member
		if visible && t.Version >= minVersion {
			return nil
		}
	}
}

// numeric says whether id is a numeric id (the legacy system's), and which:
// 1 to 20 decimal digits, not zero.
func numeric(id string) (uint64, bool) {
	if id == "" || len(id) > 20 {
		return 0, false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(id, 10, 64)
	return n, err == nil && n != 0
}

func notVisible(id, account string) error {
	return status.Errorf(codes.NotFound, "thread %s does not exist, or account %s is not a member of it", id, account)
}

// canonical checks an id the client sent and rewrites it in its canonical
// spelling (upper case), so that both spellings reach the same thread.
func canonical(field string, id *string) error {
	c, err := domain.CanonicalULID(field, *id)
	if err != nil {
		return invalidField(field, err.Error())
	}
	*id = c
	return nil
}

// internal maps a read-store failure: unreachable or not set up is
// Unavailable (retry later), anything else Internal; the detail is logged,
// not shown.
func (a *ReadAPI) internal(ctx context.Context, err error) error {
	falconlog.For(ctx, a.log).Error("query failed", zap.Error(err))
	switch {
	case errors.Is(err, readstore.ErrNoTable):
		return status.Error(codes.Unavailable, "the read store is not set up yet (an operator must create its tables); retry later")
	case errors.Is(err, readstore.ErrUnavailable):
		return status.Error(codes.Unavailable, "the read store cannot be reached right now; retry later")
	}
	return status.Error(codes.Internal, "internal error reading the read store; it was logged")
}

func pageSize(n int32) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 0 || n > MaxPageSize:
		return 0, invalidField("page_size", fmt.Sprintf("page_size %d is out of range: use 1 to %d (0 means %d)", n, MaxPageSize, DefaultPageSize))
	}
	return int(n), nil
}

func encodeMessageToken(newestFirst bool, id string) string {
	dir := "o"
	if newestFirst {
		dir = "n"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(dir + id))
}

func decodeMessageToken(tok string) (newestFirst bool, after string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 2 || (b[0] != 'o' && b[0] != 'n') || domain.ValidateULID("page_token", string(b[1:])) != nil {
		return false, "", badToken()
	}
	return b[0] == 'n', string(b[1:]), nil
}

func badToken() error {
	return invalidField("page_token", "page_token is not one this API returned for this query; start again without it")
}

func invalidField(field, msg string) error {
	st := status.New(codes.InvalidArgument, msg)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg}}}); err == nil {
		st = d
	}
	return st.Err()
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// threadProto is a thread as account sees it, its read state included.
func threadProto(t readmodel.Thread, account string) *falconv1.Thread {
	u := t.UnreadBy(account)
	return &falconv1.Thread{
		ThreadId: t.ID, Title: t.Title, Remarks: t.Remarks,
		MemberIds: t.Members, AdministratorIds: t.Administrators, CreatorId: t.CreatorID,
		CreatedAt: ts(t.CreatedAt), LastActivityAt: ts(t.LastActivityAt),
		MessageCount: t.MessageCount, Version: t.Version,
		UnreadCount: u.Messages, MentionCount: u.Mentions, LastReadMessageId: u.LastReadMessageID,
		ThreadNumber: t.Number,
	}
}

// MemberPreviews is how many member ids a thread summary carries.
const MemberPreviews = readmodel.SummaryMembers - 1

// MaxPageBytes bounds the encoded messages of a ListMessages page: 200
// messages of 10,000 four-byte characters would otherwise be 8 MB.
const MaxPageBytes = 1 << 20

// summaryProto is a thread as listed to account: the member count and a few
// members other than the caller, not the member array.
func summaryProto(t readmodel.Summary, account string) *falconv1.ThreadSummary {
	u := t.Unread
	preview := make([]string, 0, MemberPreviews)
	for _, m := range t.FirstMembers {
		if len(preview) == MemberPreviews {
			break
		}
		if m != account {
			preview = append(preview, m)
		}
	}
	return &falconv1.ThreadSummary{
		ThreadId: t.ID, Title: t.Title,
		MemberCount: uint32(t.MemberCount), MemberPreviewIds: preview,
		CallerIsAdministrator: t.Administrator, CreatorId: t.CreatorID,
		CreatedAt: ts(t.CreatedAt), LastActivityAt: ts(t.LastActivityAt),
		MessageCount: t.MessageCount, Version: t.Version,
		UnreadCount: u.Messages, MentionCount: u.Mentions, LastReadMessageId: u.LastReadMessageID,
		ThreadNumber: t.Number,
	}
}

func messageProto(m readmodel.Message) *falconv1.Message {
	return messageProtos([]readmodel.Message{m})[0]
}

// messageProtos makes a page's messages in three allocations (messages,
// timestamps, pointers) rather than one a message and one a timestamp.
func messageProtos(ms []readmodel.Message) []*falconv1.Message {
	out := make([]*falconv1.Message, len(ms))
	protos := make([]falconv1.Message, len(ms))
	times := make([]timestamppb.Timestamp, 0, 2*len(ms))
	stamp := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		times = append(times, timestamppb.Timestamp{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())})
		return &times[len(times)-1]
	}
	for i, m := range ms {
		p := &protos[i]
		p.MessageId, p.ThreadId, p.SenderId, p.Body = m.ID, m.ThreadID, m.SenderID, m.Body
		p.ReplyToMessageId, p.MentionAccountIds = m.ReplyToMessageID, m.MentionAccountIDs
		p.CreatedAt, p.EditedAt, p.Version = stamp(m.CreatedAt), stamp(m.EditedAt), m.Version
		p.MessageNumber, p.ReplyToMessageNumber = m.Number, m.ReplyToNumber
		out[i] = p
	}
	return out
}
