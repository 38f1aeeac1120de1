package readapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readmodel"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
	"github.com/falcon-chat/falcon/services/read-api/readapi"
)

// fixture is a read-api over a Pebble store the test writes through the
// projection, the way read-model-updater does.
type fixture struct {
	client    falconv1.ThreadQueryServiceClient
	httpBase  string
	projector *readmodel.Projector
	threads   map[string]*domain.Thread
	now       time.Time
	numbers   uint64
}

func start(t *testing.T, options ...func(*readapi.Config)) *fixture {
	t.Helper()
	store, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ls := testenv.Listeners(t)
	grpcAddr, httpAddr := ls.GRPC.Addr().String(), ls.HTTP.Addr().String()
	reg := prometheus.NewRegistry()
	cfg := readapi.Config{MinVersionWait: 300 * time.Millisecond}
	for _, o := range options {
		o(&cfg)
	}
	api, err := readapi.New(cfg, store, testenv.Logger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Serving{Log: testenv.Logger(t), Authn: auth.Dev{}, Registry: reg, Listeners: ls}, api)
	}()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close()
		store.Close()
	})
	f := &fixture{client: falconv1.NewThreadQueryServiceClient(conn), httpBase: "http://" + httpAddr,
		projector: readmodel.NewProjector(store), threads: map[string]*domain.Thread{}, now: time.Now().UTC()}
	testenv.Eventually(t, 10*time.Second, "read-api serving", func() bool {
		resp, err := http.Get(f.httpBase + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return f
}

// do decides and projects one command.
func (f *fixture) do(t *testing.T, threadID, actor string, cmd domain.Command) domain.Result {
	t.Helper()
	th := f.threads[threadID]
	if th == nil {
		th = domain.NewThread(threadID)
		f.threads[threadID] = th
	}
	f.now = f.now.Add(time.Millisecond)
	f.numbers++
	e, r, err := th.Decide(cmd, domain.Meta{ActorID: actor, EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(),
		NewNumber: 1<<62 + f.numbers, Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Apply(*e); err != nil {
		t.Fatal(err)
	}
	if _, err := f.projector.Apply(context.Background(), []domain.Event{*e}); err != nil {
		t.Fatal(err)
	}
	return r
}

func as(account string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), auth.AccountHeader, account)
}

func TestMessagePagingBothWays(t *testing.T) {
	f := start(t)
	tid := ulid.Make().String()
	f.do(t, tid, "alice", domain.CreateThread{Title: "paging", MemberIDs: []string{"bob"}})
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, f.do(t, tid, "alice", domain.PostMessage{Body: fmt.Sprint(i)}).MessageID)
	}
	page := func(order falconv1.MessageOrder, token string) *falconv1.ListMessagesResponse {
		t.Helper()
		resp, err := f.client.ListMessages(as("bob"), &falconv1.ListMessagesRequest{ThreadId: tid, PageSize: 3, Order: order, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	bodies := func(r *falconv1.ListMessagesResponse) string {
		s := ""
		for _, m := range r.Messages {
			s += m.Body
		}
		return s
	}
	p1 := page(falconv1.MessageOrder_MESSAGE_ORDER_UNSPECIFIED, "")
	p2 := page(0, p1.NextPageToken)
	p3 := page(0, p2.NextPageToken)
	if got := bodies(p1) + "|" + bodies(p2) + "|" + bodies(p3); got != "012|345|6" || p3.NextPageToken != "" || p1.PrevPageToken != "" {
		t.Fatalf("oldest first: %s (last next %q, first prev %q)", got, p3.NextPageToken, p1.PrevPageToken)
	}
	// Back from the third page, newest first, ends where page two began.
	back := page(0, p3.PrevPageToken)
	if got := bodies(back); got != "543" {
		t.Fatalf("prev page from %q: %s, want 543", bodies(p3), got)
	}
	n1 := page(falconv1.MessageOrder_MESSAGE_ORDER_NEWEST_FIRST, "")
	n2 := page(0, n1.NextPageToken)
	if got := bodies(n1) + "|" + bodies(n2); got != "654|321" {
		t.Fatalf("newest first: %s", got)
	}
	if got, err := f.client.GetMessage(as("bob"), &falconv1.GetMessageRequest{ThreadId: tid, MessageId: ids[3]}); err != nil || got.Message.Body != "3" {
		t.Fatalf("GetMessage: %v, %v", got, err)
	}
}

func TestQueriesRefuseWhatTheyShould(t *testing.T) {
	f := start(t)
	tid := ulid.Make().String()
	r := f.do(t, tid, "alice", domain.CreateThread{Title: "private", MemberIDs: []string{"bob"}})
	cases := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"non-member reads thread", func() error {
			_, err := f.client.GetThread(as("carol"), &falconv1.GetThreadRequest{ThreadId: tid})
			return err
		}, codes.NotFound},
		{"non-member lists messages", func() error {
			_, err := f.client.ListMessages(as("carol"), &falconv1.ListMessagesRequest{ThreadId: tid})
			return err
		}, codes.NotFound},
		{"unknown thread", func() error {
			_, err := f.client.GetThread(as("bob"), &falconv1.GetThreadRequest{ThreadId: ulid.Make().String()})
			return err
		}, codes.NotFound},
		{"unknown message", func() error {
			_, err := f.client.GetMessage(as("bob"), &falconv1.GetMessageRequest{ThreadId: tid, MessageId: ulid.Make().String()})
			return err
		}, codes.NotFound},
		{"bad thread id", func() error {
			_, err := f.client.GetThread(as("bob"), &falconv1.GetThreadRequest{ThreadId: "x"})
			return err
		}, codes.InvalidArgument},
		{"page too large", func() error {
			_, err := f.client.ListMessages(as("bob"), &falconv1.ListMessagesRequest{ThreadId: tid, PageSize: readapi.MaxPageSize + 1})
			return err
		}, codes.InvalidArgument},
		{"negative page", func() error {
			_, err := f.client.ListThreads(as("bob"), &falconv1.ListThreadsRequest{PageSize: -1})
			return err
		}, codes.InvalidArgument},
		{"forged message token", func() error {
			_, err := f.client.ListMessages(as("bob"), &falconv1.ListMessagesRequest{ThreadId: tid, PageToken: "bm9wZQ"})
			return err
		}, codes.InvalidArgument},
		{"forged thread token", func() error {
			_, err := f.client.ListThreads(as("bob"), &falconv1.ListThreadsRequest{PageToken: "***"})
			return err
		}, codes.InvalidArgument},
		{"version not reached in time", func() error {
			_, err := f.client.GetThread(as("bob"), &falconv1.GetThreadRequest{ThreadId: tid, MinVersion: r.Version + 1})
			return err
		}, codes.Unavailable},
		{"no identity", func() error {
			_, err := f.client.GetThread(context.Background(), &falconv1.GetThreadRequest{ThreadId: tid})
			return err
		}, codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if status.Code(err) != tc.code {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tc.code)
			}
			if status.Convert(err).Message() == "" {
				t.Fatal("the error has no message")
			}
		})
	}

	httpCases := []struct {
		path, account string
		want          int
	}{
		{"/v1/threads/" + tid, "bob", 200},
		{"/v1/threads/" + tid, "carol", 404},
		{"/v1/threads/" + ulid.Make().String(), "bob", 404},
		{"/v1/threads/" + tid + "?minVersion=99", "bob", 503},
		{"/v1/threads/" + tid + "/messages?pageSize=500", "bob", 400},
		{"/v1/threads/" + tid + "/messages?pageSize=many", "bob", 400},
		{"/v1/threads", "", 401},
		{"/openapi.json", "", 200},
	}
	for _, c := range httpCases {
		req, _ := http.NewRequest("GET", f.httpBase+c.path, nil)
		if c.account != "" {
			req.Header.Set("X-Account-Id", c.account)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s as %q: %d, want %d", c.path, c.account, resp.StatusCode, c.want)
		}
	}
}

func TestMinVersionWaitsForTheReadModel(t *testing.T) {
	f := start(t)
	tid := ulid.Make().String()
	f.do(t, tid, "alice", domain.CreateThread{Title: "wait"})
	go func() {
		time.Sleep(50 * time.Millisecond)
		f.do(t, tid, "alice", domain.PostMessage{Body: "late"})
	}()
	resp, err := f.client.ListMessages(as("alice"), &falconv1.ListMessagesRequest{ThreadId: tid, MinVersion: 2})
	if err != nil || len(resp.Messages) != 1 || resp.Messages[0].Body != "late" {
		t.Fatalf("ListMessages with minVersion 2: %v, %v", resp, err)
	}
}

func TestListThreadsMostRecentFirst(t *testing.T) {
	f := start(t)
	var ids []string
	for i := 0; i < 5; i++ {
		id := ulid.Make().String()
		f.do(t, id, "alice", domain.CreateThread{Title: fmt.Sprint(i), MemberIDs: []string{"bob"}})
		ids = append(ids, id)
	}
	f.do(t, ids[1], "bob", domain.PostMessage{Body: "bump"})
	var got []string
	token := ""
	for {
		resp, err := f.client.ListThreads(as("bob"), &falconv1.ListThreadsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range resp.Threads {
			got = append(got, th.Title)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if fmt.Sprint(got) != "[1 4 3 2 0]" {
		t.Fatalf("bob's threads: %v, want [1 4 3 2 0]", got)
	}
}

// TestNoExistenceOracle: a thread a caller cannot see answers exactly like
// one that does not exist, with min_version too: the same code, the same
// message but for the id, and the same wait (the whole bound), so neither
// the answer nor its timing tells whether the thread exists or its version.
func TestNoExistenceOracle(t *testing.T) {
	f := start(t)
	tid := ulid.Make().String()
	f.do(t, tid, "alice", domain.CreateThread{Title: "private"})
	missing := ulid.Make().String()
	type outcome struct {
		code codes.Code
		msg  string
		took time.Duration
	}
	ask := func(id string, minVersion uint64) outcome {
		start := time.Now()
		_, err := f.client.GetThread(as("mallory"), &falconv1.GetThreadRequest{ThreadId: id, MinVersion: minVersion})
		st := status.Convert(err)
		return outcome{st.Code(), strings.ReplaceAll(st.Message(), id, "ID"), time.Since(start)}
	}
	for _, minVersion := range []uint64{0, 1, 99} {
		hidden, absent := ask(tid, minVersion), ask(missing, minVersion)
		if hidden.code != codes.NotFound || hidden.code != absent.code || hidden.msg != absent.msg {
			t.Fatalf("min_version %d: hidden thread %+v, missing thread %+v", minVersion, hidden, absent)
		}
		if minVersion > 0 && (hidden.took < 250*time.Millisecond || absent.took < 250*time.Millisecond) {
			t.Fatalf("min_version %d: answered after %s and %s; both must wait the whole bound", minVersion, hidden.took, absent.took)
		}
	}
	// The waits of one account are bounded.
	var wg sync.WaitGroup
	codesSeen := make(chan codes.Code, 2*readapi.MaxWaitsPerAccount)
	for i := 0; i < 2*readapi.MaxWaitsPerAccount; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.client.GetThread(as("mallory"), &falconv1.GetThreadRequest{ThreadId: missing, MinVersion: 1})
			codesSeen <- status.Code(err)
		}()
	}
	wg.Wait()
	close(codesSeen)
	exhausted := 0
	for c := range codesSeen {
		if c == codes.ResourceExhausted {
			exhausted++
		}
	}
	if exhausted == 0 {
		t.Fatalf("%d concurrent waits of one account were all admitted; at most %d may wait", 2*readapi.MaxWaitsPerAccount, readapi.MaxWaitsPerAccount)
	}
}

// TestListThreadsIsBoundedWhateverTheThreads: anyone may add anyone to
// threads of 1,000 members; forty of them must not break the victim's
// thread list. A list carries counts and a few member ids, so a full page
// stays far below the message limit; the member arrays themselves would
// not have fitted.
// The migration's verify reads every thread as an audit account; no one
// else gains anything from the setting.
func TestAuditAccountsReadEveryThread(t *testing.T) {
	f := start(t, func(c *readapi.Config) { c.AuditAccounts = []string{"migration"} })
	tid := ulid.Make().String()
	f.do(t, tid, "alice", domain.CreateThread{Title: "private"})
	f.do(t, tid, "alice", domain.PostMessage{Body: "hello"})
	gone := ulid.Make().String()
	f.do(t, gone, "alice", domain.CreateThread{Title: "destroyed"})
	f.do(t, gone, "alice", domain.DestroyThread{})
	tests := []struct {
		name, as, thread string
		want             codes.Code
	}{
		{"audit account", "migration", tid, codes.OK},
		{"anyone else", "mallory", tid, codes.NotFound},
		{"a destroyed thread, even for the audit account", "migration", gone, codes.NotFound},
	}
	for _, tc := range tests {
		_, err := f.client.GetThread(as(tc.as), &falconv1.GetThreadRequest{ThreadId: tc.thread})
		msgs, lerr := f.client.ListMessages(as(tc.as), &falconv1.ListMessagesRequest{ThreadId: tc.thread})
		if status.Code(err) != tc.want || status.Code(lerr) != tc.want {
			t.Errorf("%s: GetThread %v, ListMessages %v; want %v", tc.name, err, lerr, tc.want)
		}
		if tc.want == codes.OK && len(msgs.GetMessages()) != 1 {
			t.Errorf("%s: %d messages, want 1", tc.name, len(msgs.GetMessages()))
		}
	}
}

func TestListThreadsIsBoundedWhateverTheThreads(t *testing.T) {
	f := start(t)
	members := make([]string, domain.MaxMembers-1)
	for i := range members {
		members[i] = fmt.Sprintf("%0*d", domain.MaxAccountIDBytes, i) // the longest ids
	}
	members[7] = "victim"
	var full []*falconv1.Thread
	for i := 0; i < 40; i++ {
		id := ulid.Make().String()
		f.do(t, id, "mallory", domain.CreateThread{Title: strings.Repeat("界", domain.MaxTitleRunes), MemberIDs: members})
		th := f.threads[id]
		full = append(full, &falconv1.Thread{ThreadId: id, MemberIds: th.Members(), AdministratorIds: []string{"mallory"}})
	}
	// Weakened: the same page with member arrays passes the gateway's limit.
	if n := listSize(full); n <= server.MaxResponseBytes {
		t.Fatalf("40 full threads encode to %d bytes, within the limit: the test no longer shows the attack", n)
	}
	resp, err := f.client.ListThreads(as("victim"), &falconv1.ListThreadsRequest{PageSize: 200})
	if err != nil {
		t.Fatalf("the victim's thread list: %v", err)
	}
	if len(resp.Threads) != 40 {
		t.Fatalf("%d threads listed, want 40", len(resp.Threads))
	}
	for _, th := range resp.Threads {
		if th.MemberCount != domain.MaxMembers || len(th.MemberPreviewIds) != readapi.MemberPreviews || slices.Contains(th.MemberPreviewIds, "victim") || th.CallerIsAdministrator {
			t.Fatalf("summary %+v: want %d members, %d previews without the caller, not administrator", th, domain.MaxMembers, readapi.MemberPreviews)
		}
	}
	// The bound by construction: a full page of the largest summaries.
	worst := &falconv1.ListThreadsResponse{NextPageToken: strings.Repeat("t", 200)}
	for range readapi.MaxPageSize {
		worst.Threads = append(worst.Threads, resp.Threads[0])
	}
	if n := proto.Size(worst); n > server.MaxResponseBytes/4 {
		t.Fatalf("a page of %d of the largest summaries is %d bytes: not bounded well below %d", readapi.MaxPageSize, n, server.MaxResponseBytes)
	}
	// And through the gateway, where the attack was seen.
	req, _ := http.NewRequest("GET", f.httpBase+"/v1/threads?pageSize=200", nil)
	req.Header.Set(auth.AccountHeader, "victim")
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/threads: %d", hr.StatusCode)
	}
}

func listSize(threads []*falconv1.Thread) int {
	n := 0
	for _, th := range threads {
		n += proto.Size(&falconv1.GetThreadResponse{Thread: th}) + 3
	}
	return n
}

// TestListMessagesPagesByBytes: 200 messages of the longest bodies would be
// 8 MB in one page; pages end at the byte budget instead, and paging still
// returns every message once, in order.
func TestListMessagesPagesByBytes(t *testing.T) {
	f := start(t)
	tid := ulid.Make().String()
	f.do(t, tid, "alice", domain.CreateThread{Title: "long"})
	const n = 200
	body := strings.Repeat("界", domain.MaxBodyRunes) // 30,000 bytes of UTF-8
	var want []string
	for range n {
		want = append(want, f.do(t, tid, "alice", domain.PostMessage{Body: body}).MessageID)
	}
	var got []string
	pages, token := 0, ""
	for {
		resp, err := f.client.ListMessages(as("alice"), &falconv1.ListMessagesRequest{ThreadId: tid, PageSize: 200, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		size := 0
		for _, m := range resp.Messages {
			got = append(got, m.MessageId)
			size += proto.Size(m)
		}
		if size > readapi.MaxPageBytes {
			t.Fatalf("page %d carries %d bytes of messages, over %d", pages, size, readapi.MaxPageBytes)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d messages (%d pages), want the %d posted in order", len(got), pages, n)
	}
	if pages < 2 {
		t.Fatalf("%d MB in %d page", n*len(body)>>20, pages)
	}
}

// TestGetByNumericID: threads and messages answer their numeric ids, and
// are found by them, over gRPC and REST; a number finds only what its
// caller may read, and only what it names.
func TestGetByNumericID(t *testing.T) {
	f := start(t)
	tid, other := ulid.Make().String(), ulid.Make().String()
	created := f.do(t, tid, "alice", domain.CreateThread{Title: "numbered", MemberIDs: []string{"bob"}})
	f.do(t, other, "carol", domain.CreateThread{Title: "carol's"})
	first := f.do(t, tid, "bob", domain.PostMessage{Body: "first"})
	reply := f.do(t, tid, "alice", domain.PostMessage{Body: "reply", ReplyToMessageID: first.MessageID})
	elsewhere := f.do(t, other, "carol", domain.PostMessage{Body: "elsewhere"})
	num := func(n uint64) string { return strconv.FormatUint(n, 10) }

	th, err := f.client.GetThread(as("bob"), &falconv1.GetThreadRequest{ThreadId: num(created.Number)})
	if err != nil || th.Thread.ThreadId != tid || th.Thread.ThreadNumber != created.Number {
		t.Fatalf("GetThread by number: %v, %v", th, err)
	}
	m, err := f.client.GetMessage(as("bob"), &falconv1.GetMessageRequest{ThreadId: num(created.Number), MessageId: num(reply.Number)})
	if err != nil || m.Message.MessageId != reply.MessageID || m.Message.MessageNumber != reply.Number || m.Message.ReplyToMessageNumber != first.Number {
		t.Fatalf("GetMessage by numbers: %v, %v", m, err)
	}
	list, err := f.client.ListMessages(as("bob"), &falconv1.ListMessagesRequest{ThreadId: num(created.Number)})
	if err != nil || len(list.Messages) != 2 || list.Messages[0].MessageNumber != first.Number {
		t.Fatalf("ListMessages by number: %v, %v", list, err)
	}
	threads, err := f.client.ListThreads(as("bob"), &falconv1.ListThreadsRequest{})
	if err != nil || len(threads.Threads) != 1 || threads.Threads[0].ThreadNumber != created.Number {
		t.Fatalf("ListThreads: %v, %v", threads, err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.httpBase+"/v1/threads/"+num(created.Number)+"/messages/"+num(first.Number), nil)
	req.Header.Set(auth.AccountHeader, "bob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"messageNumber":"`+num(first.Number)+`"`) {
		t.Fatalf("REST by numbers: %d %s", resp.StatusCode, body)
	}

	cases := []struct {
		name, account, thread, message string
	}{
		{"a thread number, not a member", "carol", num(created.Number), ""},
		{"a message number as a thread", "bob", num(first.Number), ""},
		{"a number nothing has", "bob", num(1<<62 + 99999), ""},
		{"another thread's message number", "bob", tid, num(elsewhere.Number)},
		{"a thread number as a message", "bob", tid, num(created.Number)},
	}
	for _, c := range cases {
		var err error
		if c.message == "" {
			_, err = f.client.GetThread(as(c.account), &falconv1.GetThreadRequest{ThreadId: c.thread})
		} else {
			_, err = f.client.GetMessage(as(c.account), &falconv1.GetMessageRequest{ThreadId: c.thread, MessageId: c.message})
		}
		if status.Code(err) != codes.NotFound {
			t.Errorf("%s: %v, want NotFound", c.name, err)
		}
	}
}

// TestMessagesCarryEveryField: a page and a single read answer a message
// with everything projected of it: times to the nanosecond, the reply,
// mentions and numbers; an edit's time only once it is edited.
func TestMessagesCarryEveryField(t *testing.T) {
	f := start(t)
	tid := ulid.Make().String()
	f.do(t, tid, "alice", domain.CreateThread{Title: "fields", MemberIDs: []string{"bob", "carol"}})
	first := f.do(t, tid, "alice", domain.PostMessage{Body: "first"})
	firstAt := f.now
	reply := f.do(t, tid, "bob", domain.PostMessage{Body: "reply", ReplyToMessageID: first.MessageID, MentionAccountIDs: []string{"alice", "carol"}})
	postedAt := f.now
	f.do(t, tid, "bob", domain.EditMessage{MessageID: reply.MessageID, Body: "edited reply"})
	editedAt := f.now
	number := func(id string) uint64 {
		t.Helper()
		m, err := f.client.GetMessage(as("carol"), &falconv1.GetMessageRequest{ThreadId: tid, MessageId: id})
		if err != nil || m.Message.MessageNumber == 0 {
			t.Fatalf("GetMessage %s: %v, %v", id, m, err)
		}
		return m.Message.MessageNumber
	}
	want := []*falconv1.Message{
		{MessageId: first.MessageID, ThreadId: tid, SenderId: "alice", Body: "first", CreatedAt: timestamppb.New(firstAt), MessageNumber: number(first.MessageID)},
		{MessageId: reply.MessageID, ThreadId: tid, SenderId: "bob", Body: "edited reply", ReplyToMessageId: first.MessageID,
			MentionAccountIds: []string{"alice", "carol"}, CreatedAt: timestamppb.New(postedAt), EditedAt: timestamppb.New(editedAt),
			MessageNumber: number(reply.MessageID), ReplyToMessageNumber: number(first.MessageID)},
	}
	for _, order := range []falconv1.MessageOrder{falconv1.MessageOrder_MESSAGE_ORDER_OLDEST_FIRST, falconv1.MessageOrder_MESSAGE_ORDER_NEWEST_FIRST} {
		resp, err := f.client.ListMessages(as("carol"), &falconv1.ListMessagesRequest{ThreadId: tid, Order: order})
		if err != nil || len(resp.Messages) != len(want) {
			t.Fatalf("%v: %v, %v", order, resp, err)
		}
		for i, got := range resp.Messages {
			w := want[i]
			if order == falconv1.MessageOrder_MESSAGE_ORDER_NEWEST_FIRST {
				w = want[len(want)-1-i]
			}
			single, err := f.client.GetMessage(as("carol"), &falconv1.GetMessageRequest{ThreadId: tid, MessageId: w.MessageId})
			if err != nil {
				t.Fatal(err)
			}
			if got.Version == 0 || single.Message.Version != got.Version {
				t.Errorf("%v: %s has version %d listed, %d read alone", order, w.MessageId, got.Version, single.Message.Version)
			}
			w = proto.CloneOf(w)
			w.Version = got.Version
			if !proto.Equal(got, w) || !proto.Equal(single.Message, w) {
				t.Errorf("%v: message %d\n listed %v\n alone  %v\n want   %v", order, i, got, single.Message, w)
			}
		}
	}
}
