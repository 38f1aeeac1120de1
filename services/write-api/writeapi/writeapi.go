package writeapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/IBM/sarama"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/retry"
	"github.com/falcon-chat/falcon/libs/server"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// WriteAPI is the write-api component.
type WriteAPI struct {
	cfg     Config
	log     *zap.Logger
	m       *metrics
	svc     *Service
	grpc    *GRPC
	forward *grpcForwarder
	status  *retry.Status
}

// New builds write-api; it connects to Kafka in Run, so that health and
// readiness are served while Kafka is still out of reach. Commands forwarded
// to another replica continue their trace with tp.
func New(cfg Config, log *zap.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (*WriteAPI, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Kafka.Metrics == nil {
		cfg.Kafka.Metrics = eventlog.ClientMetrics(reg)
	}
	log = log.With(zap.String("component", "write-api"))
	m := newMetrics(reg)
	replicas := replicaAuth{secret: []byte(cfg.ReplicaSecret)}
	if cfg.ReplicaSecret == "" {
		log.Warn("--replica-secret is empty: replicas cannot prove to each other that they forwarded a command; forwarded commands are treated as clients'")
	}
	creds := insecure.NewCredentials()
	if cfg.ReplicaTLS.CAFile != "" {
		tc, err := cfg.ReplicaTLS.Config()
		if err != nil {
			return nil, fmt.Errorf("--replica-tls-*: %w", err)
		}
		creds = credentials.NewTLS(tc)
	}
	fwd := newGRPCForwarder(m, replicas, creds, tp)
	svc := &Service{forward: fwd, self: cfg.advertise(), wait: cfg.RouteWait}
	return &WriteAPI{cfg: cfg, log: log, m: m, svc: svc, grpc: newGRPC(svc, log, replicas), forward: fwd,
		status: retry.NewStatus(fmt.Errorf("not connected to Kafka at %s yet", cfg.Kafka.Brokers.String()))}, nil
}

// cluster is what write-api holds once connected to Kafka.
type cluster struct {
	client     sarama.Client
	admin      sarama.ClusterAdmin
	owners     *owners
	router     Router
	partitions int32
}

func (c *cluster) close() {
	_ = c.admin.Close()
	_ = c.client.Close()
}

// connect creates the topics if asked to, waits for them to exist and
// opens the clients write-api keeps.
func (w *WriteAPI) connect(ctx context.Context) (*cluster, error) {
	cfg := w.cfg
	brokers, topic := cfg.Kafka.Brokers, cfg.Kafka.Topic
	kcfg, err := cfg.Kafka.Sarama("falcon-write-api")
	if err != nil {
		return nil, err
	}
	if cfg.CreateTopics {
		layout := cfg.layout()
		topics := map[string]*sarama.TopicDetail{topic: layout.EventsTopic()}
		if cfg.SnapshotEvery > 0 {
			topics[eventlog.SnapshotsTopic(topic)] = layout.SnapshotsTopic()
		}
		if _, err := eventlog.EnsureTopics(ctx, &cfg.Kafka, topics); err != nil {
			return nil, err
		}
	}
	client, err := sarama.NewClient(brokers, kcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka at %s: %w", brokers.String(), err)
	}
	topics := []string{topic}
	if cfg.SnapshotEvery > 0 {
		topics = append(topics, eventlog.SnapshotsTopic(topic))
	}
	w.status.Set(fmt.Errorf("waiting for topics %s to exist on Kafka at %s", strings.Join(topics, ", "), brokers.String()))
	counts := make([]int32, len(topics))
	for i, t := range topics {
		if counts[i], err = eventlog.WaitForTopic(ctx, client, t); err != nil {
			client.Close()
			return nil, err
		}
	}
	if len(counts) == 2 && counts[0] != counts[1] {
		client.Close()
		return nil, fmt.Errorf("topic %s has %d partitions and %s %d: they must match (one snapshot partition per events partition)",
			topics[0], counts[0], topics[1], counts[1])
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("admin client of Kafka at %s: %w", brokers.String(), err)
	}
	r := newGroupRouter(admin, cfg.Group, topic)
	logOf := func(p int32) PartitionLog {
		return eventlog.NewTxnLog(eventlog.TxnLogConfig{Kafka: cfg.Kafka, Partition: p,
			TransactionalID: fmt.Sprintf("%s-%s-%d", cfg.Group, topic, p),
			TxnTimeout:      cfg.TxnTimeout, MaxBatch: cfg.MaxBatch, Snapshots: cfg.SnapshotEvery > 0}, client)
	}
	w.m.partitions.Set(float64(counts[0]))
	return &cluster{client: client, admin: admin, router: r, partitions: counts[0],
		owners: newOwners(&w.cfg, w.log, w.m, r, logOf)}, nil
}

// RegisterGRPC serves ThreadCommandService and ImportService on s.
func (w *WriteAPI) RegisterGRPC(s grpc.ServiceRegistrar) {
	falconv1.RegisterThreadCommandServiceServer(s, w.grpc)
	falconv1.RegisterImportServiceServer(s, NewImportGRPC(w.grpc, w.cfg.ImportAccounts))
}

// Gateway returns ThreadCommandService's REST routes.
func (w *WriteAPI) Gateway() []server.RegisterFunc {
	return []server.RegisterFunc{func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return falconv1.RegisterThreadCommandServiceHandlerClient(ctx, mux, falconv1.NewThreadCommandServiceClient(conn))
	}}
}

// Ready is nil once this replica is connected to Kafka, in the group, and
// has loaded every partition it owns.
func (w *WriteAPI) Ready() error {
	if err := w.status.Err(); err != nil {
		return err
	}
	c := w.svc.cluster.Load()
	if c == nil {
		return errors.New("not connected to Kafka yet")
	}
	return c.owners.ready()
}

// Run connects to Kafka (retrying until it answers), then owns partitions
// until ctx ends; then it stops the writers (answering what they have
// queued) and closes the Kafka clients.
func (w *WriteAPI) Run(ctx context.Context) error {
	var c *cluster
	err := retry.Until(ctx, w.log, "connecting to Kafka at "+w.cfg.Kafka.Brokers.String(), retry.Default, w.status, func(ctx context.Context) (err error) {
		c, err = w.connect(ctx)
		return err
	})
	if err != nil {
		w.forward.close()
		return nil // stopped before Kafka answered
	}
	w.svc.cluster.Store(c)
	err = c.owners.run(ctx)
	w.forward.close()
	c.close()
	return err
}
