package writeapi

import (
	"context"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/server"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// WriteAPI is the write-api component.
type WriteAPI struct {
	cfg    Config
	log    *zap.Logger
	client sarama.Client
	admin  sarama.ClusterAdmin
	owners *owners
	grpc   *GRPC
}

// New connects to Kafka, creates the events topic if asked to, and waits
// for it to exist.
func New(ctx context.Context, cfg Config, log *zap.Logger, reg prometheus.Registerer) (*WriteAPI, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log = log.With(zap.String("component", "write-api"))
	kcfg := eventlog.NewConfig("falcon-write-api")
	if cfg.CreateTopics {
		if err := eventlog.EnsureTopic(ctx, cfg.KafkaBrokers, kcfg, cfg.Topic, int32(cfg.Partitions), int16(cfg.Replication), nil); err != nil {
			return nil, err
		}
		if cfg.SnapshotEvery > 0 {
			compact := "compact"
			if err := eventlog.EnsureTopic(ctx, cfg.KafkaBrokers, kcfg, eventlog.SnapshotsTopic(cfg.Topic), int32(cfg.Partitions), int16(cfg.Replication),
				map[string]*string{"cleanup.policy": &compact}); err != nil {
				return nil, err
			}
		}
	}
	client, err := sarama.NewClient(cfg.KafkaBrokers, kcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka %v: %w", []string(cfg.KafkaBrokers), err)
	}
	n, err := eventlog.WaitForTopic(ctx, client, cfg.Topic)
	if err != nil {
		client.Close()
		return nil, err
	}
	if cfg.SnapshotEvery > 0 {
		sn, err := eventlog.WaitForTopic(ctx, client, eventlog.SnapshotsTopic(cfg.Topic))
		if err != nil {
			client.Close()
			return nil, err
		}
		if sn != n {
			client.Close()
			return nil, fmt.Errorf("topic %s has %d partitions and %s %d: they must match (one snapshot partition per events partition)",
				cfg.Topic, n, eventlog.SnapshotsTopic(cfg.Topic), sn)
		}
	}
	admin, err := sarama.NewClusterAdmin(cfg.KafkaBrokers, kcfg)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("Kafka admin client: %w", err)
	}
	m := newMetrics(reg)
	r := newRoutes(admin, cfg.Group, cfg.Topic)
	o := newOwners(&cfg, log, client, m, r)
	svc := &Service{owners: o, routes: r, partitions: n, self: cfg.advertise(), wait: cfg.RouteWait}
	return &WriteAPI{cfg: cfg, log: log, client: client, admin: admin, owners: o, grpc: newGRPC(svc, log, m)}, nil
}

func (w *WriteAPI) RegisterGRPC(s *grpc.Server) {
	falconv1.RegisterThreadCommandServiceServer(s, w.grpc)
}

func (w *WriteAPI) Gateway() []server.RegisterFunc {
	return []server.RegisterFunc{falconv1.RegisterThreadCommandServiceHandler}
}

// Ready is nil once this replica is in the group and has loaded every
// partition it owns.
func (w *WriteAPI) Ready() error { return w.owners.ready() }

// Run owns partitions until ctx ends, then stops the writers (answering
// what they have queued) and closes the Kafka clients.
func (w *WriteAPI) Run(ctx context.Context) error {
	err := w.owners.run(ctx)
	w.grpc.close()
	_ = w.admin.Close()
	_ = w.client.Close()
	return err
}
