package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	// The legacy database's driver.
	_ "github.com/go-sql-driver/mysql"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/legacydb"
	"github.com/falcon-chat/falcon/libs/migrate"
	"github.com/falcon-chat/falcon/libs/progress"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

const migrateUsage = `usage: falcon migrate <command> [flags]

commands:
  bulk     import the legacy history through write-api (resumable: run it again after a crash)
  follow   apply the binlog's changes from where bulk started, until stopped
  verify   compare legacy and Falcon room by room; write a report
  seed     fill the legacy database with a synthetic history (tests, benchmarks)

The legacy database: --legacy-dsn (FALCON_LEGACY_DSN), as make legacy-db-up prints it.
`

// runMigrate runs a `falcon migrate` command: the migration from the
// legacy MySQL database (docs/migration.md).
func runMigrate(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, migrateUsage)
		return errors.New("a command is needed")
	}
	switch args[0] {
	case "seed":
		return runSeed(args[1:])
	case "bulk":
		return runBulk(args[1:])
	case "verify":
		return runVerify(args[1:])
	case "follow":
		return runFollow(args[1:])
	case "-h", "--help", "help":
		fmt.Print(migrateUsage)
		return nil
	}
	fmt.Fprint(os.Stderr, migrateUsage)
	return fmt.Errorf("unknown command %q", args[0])
}

const defaultLegacyDSN = "root@tcp(127.0.0.1:23306)/legacy?parseTime=true&loc=UTC&charset=latin1"

func runSeed(args []string) error {
	fs := flag.NewFlagSet("falcon migrate seed", flag.ContinueOnError)
	dsn := fs.String("legacy-dsn", defaultLegacyDSN, "the legacy database (Go MySQL driver DSN)")
	c := legacydb.DefaultSeed()
	fs.IntVar(&c.Rooms, "rooms", c.Rooms, "rooms")
	fs.IntVar(&c.Accounts, "accounts", c.Accounts, "accounts")
	fs.IntVar(&c.Messages, "messages", c.Messages, "messages")
	fs.IntVar(&c.MaxMembers, "max-members", c.MaxMembers, "most members of a room (sizes follow a Zipf law)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed: the same seed writes the same history")
	fs.BoolVar(&c.BadData, "bad-data", c.BadData, "mix in rows Falcon cannot take as they are (invalid UTF-8, overlong texts, missing rooms, ...)")
	fs.Float64Var(&c.BadRate, "bad-rate", c.BadRate, "share of the rows of each bad kind")
	fs.IntVar(&c.Workers, "workers", c.Workers, "parallel inserting connections")
	return server.Command(fs, args, func(ctx context.Context, log *zap.Logger) error {
		db, err := sql.Open("mysql", *dsn)
		if err != nil {
			return fmt.Errorf("--legacy-dsn: %w", err)
		}
		defer db.Close()
		db.SetMaxOpenConns(c.Workers + 1)
		if err := db.PingContext(ctx); err != nil {
			return fmt.Errorf("the legacy database at %s does not answer (make legacy-db-up starts one): %w", *dsn, err)
		}
		p := progress.New("seeded messages", c.Messages, log)
		seeded, err := legacydb.Seed(ctx, db, c, p.Set)
		p.Finish()
		if err != nil {
			return err
		}
		fmt.Printf("seeded %d rooms, %d members, %d messages; bad rows: %v\n", seeded.Rooms, seeded.Members, seeded.Messages, seeded.Bad)
		return nil
	})
}

// falconFlags are how a migrate command reaches Falcon.
type falconFlags struct {
	addr    string
	account string
	token   string
	tls     tlsfiles.Client
}

func (f *falconFlags) register(fs *flag.FlagSet, what, defaultAddr string) {
	fs.StringVar(&f.addr, what+"-addr", defaultAddr, what+"'s gRPC address")
	fs.StringVar(&f.account, "account", "migration", "the account to act as with the development identity (--auth=dev); one of write-api's --import-accounts and read-api's --audit-accounts")
	fs.StringVar(&f.token, "token-file", "", "file holding a bearer token (JWT) for the account, where Falcon runs with --auth=jwt")
	fs.StringVar(&f.tls.CAFile, "tls-ca-file", "", "PEM CA bundle to verify Falcon's certificate: connect over TLS")
	fs.StringVar(&f.tls.ServerName, "tls-server-name", "", "name Falcon's certificate carries (default: the address's host)")
}

// dial connects to Falcon, every call carrying the account's identity.
func (f *falconFlags) dial() (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if f.tls.CAFile != "" {
		tc, err := f.tls.Config()
		if err != nil {
			return nil, fmt.Errorf("--tls-*: %w", err)
		}
		creds = credentials.NewTLS(tc)
	}
	md := metadata.Pairs(auth.AccountHeader, f.account)
	if f.token != "" {
		b, err := os.ReadFile(f.token)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		md = metadata.Pairs("authorization", "Bearer "+strings.TrimSpace(string(b)))
	}
	identify := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(metadata.NewOutgoingContext(ctx, metadata.Join(md)), method, req, reply, cc, opts...)
	}
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(creds), grpc.WithUnaryInterceptor(identify),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("falcon at %s: %w", f.addr, err)
	}
	return conn, nil
}

// openLegacy opens the legacy database and checks that it answers.
func openLegacy(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("--legacy-dsn: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("the legacy database at %s does not answer (make legacy-db-up starts one): %w", dsn, err)
	}
	return db, nil
}

func runBulk(args []string) error {
	fs := flag.NewFlagSet("falcon migrate bulk", flag.ContinueOnError)
	dsn := fs.String("legacy-dsn", defaultLegacyDSN, "the legacy database (Go MySQL driver DSN)")
	var falcon falconFlags
	falcon.register(fs, "write-api", "127.0.0.1:9090")
	cfg := migrate.BulkConfig{Workers: 16, ChunkRooms: 20, Batch: migrate.MaxBatch, Checkpoint: ".falcon/migrate/bulk.json", Attempts: 30}
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "chunks imported in parallel")
	fs.Uint64Var(&cfg.ChunkRooms, "chunk-rooms", cfg.ChunkRooms, "room ids per chunk (the unit of work and of the checkpoint): small, since a few rooms hold most messages and a chunk is imported by one worker")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "most messages per import call")
	fs.StringVar(&cfg.Checkpoint, "checkpoint", cfg.Checkpoint, "file recording the run's progress: a run started again continues from it")
	fs.IntVar(&cfg.Attempts, "attempts", cfg.Attempts, "tries of one import call while write-api is unavailable")
	report := fs.String("report", "", "file to write the run's result to, as JSON (default: beside the checkpoint)")
	return server.Command(fs, args, func(ctx context.Context, log *zap.Logger) error {
		db, err := openLegacy(ctx, *dsn, cfg.Workers+2)
		if err != nil {
			return err
		}
		defer db.Close()
		conn, err := falcon.dial()
		if err != nil {
			return err
		}
		defer conn.Close()
		var p *progress.Reporter
		res, err := migrate.Bulk(ctx, db, falconv1.NewImportServiceClient(conn), cfg, log, func(done, total int64) {
			if p == nil {
				p = progress.New("legacy messages", int(total), log)
			}
			p.Set(int(done))
		})
		if p != nil {
			p.Finish()
		}
		if *report == "" {
			*report = strings.TrimSuffix(cfg.Checkpoint, filepath.Ext(cfg.Checkpoint)) + "-report.json"
		}
		if werr := writeJSON(*report, res); werr != nil {
			log.Error("writing the report failed", zap.String("report", *report), zap.Error(werr))
		}
		c := res.Counts
		fmt.Printf("bulk: %d messages read in %s (%.0f/s); %d events appended; rooms created %d, messages posted %d, edited %d, deleted %d;\n"+
			"  duplicates %d, texts transformed %d, replies dropped %d, deleted rooms skipped %d, orphan messages %d, rooms refused %d\n"+
			"  follow starts at binlog %s:%d; report %s\n",
			c.Read, res.Took.Round(time.Millisecond), float64(c.Read)/res.Took.Seconds(), c.Events, c.RoomsCreated, c.Posted, c.Edited, c.Deleted,
			c.Duplicates, c.Transformed, c.RepliesDropped, c.DeletedRooms, c.Orphans, len(c.FailedRooms), res.Start.File, res.Start.Pos, *report)
		return err
	})
}

// writeJSON writes v to path, indented.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func runVerify(args []string) error {
	fs := flag.NewFlagSet("falcon migrate verify", flag.ContinueOnError)
	dsn := fs.String("legacy-dsn", defaultLegacyDSN, "the legacy database (Go MySQL driver DSN)")
	var falcon falconFlags
	falcon.register(fs, "read-api", "127.0.0.1:9090")
	cfg := migrate.VerifyConfig{Workers: 8, ChunkRooms: 500, Samples: 1000}
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "chunks of rooms compared in parallel")
	fs.Uint64Var(&cfg.ChunkRooms, "chunk-rooms", cfg.ChunkRooms, "room ids per chunk")
	fs.IntVar(&cfg.Samples, "samples", cfg.Samples, "most mismatches the report lists (all are counted)")
	report := fs.String("report", ".falcon/migrate/verify", "report files to write: <report>.json and <report>.html")
	return server.Command(fs, args, func(ctx context.Context, log *zap.Logger) error {
		db, err := openLegacy(ctx, *dsn, cfg.Workers+2)
		if err != nil {
			return err
		}
		defer db.Close()
		conn, err := falcon.dial()
		if err != nil {
			return err
		}
		defer conn.Close()
		var p *progress.Reporter
		rep, err := migrate.Verify(ctx, db, falconv1.NewThreadQueryServiceClient(conn), cfg, func(done, total int64) {
			if p == nil {
				p = progress.New("legacy messages compared", int(total), log)
			}
			p.Set(int(done))
		})
		if p != nil {
			p.Finish()
		}
		if err != nil {
			return err
		}
		if err := writeReport(*report+".json", rep.WriteJSON); err != nil {
			return err
		}
		if err := writeReport(*report+".html", rep.WriteHTML); err != nil {
			return err
		}
		if err := rep.WriteText(os.Stdout); err != nil {
			return err
		}
		fmt.Printf("report: %s.json, %s.html\n", *report, *report)
		if rep.Mismatches > 0 {
			return fmt.Errorf("%d mismatches between legacy and Falcon (see the report)", rep.Mismatches)
		}
		return nil
	})
}

func writeReport(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func runFollow(args []string) error {
	fs := flag.NewFlagSet("falcon migrate follow", flag.ContinueOnError)
	dsn := fs.String("legacy-dsn", defaultLegacyDSN, "the legacy database (Go MySQL driver DSN); follow reads its binlog with the same account")
	var falcon falconFlags
	falcon.register(fs, "write-api", "127.0.0.1:9090")
	cfg := migrate.FollowConfig{ServerID: 4242, Checkpoint: ".falcon/migrate/follow.json", MaxBatch: 5000, Parallel: 32, Attempts: 30}
	bulk := fs.String("bulk-checkpoint", ".falcon/migrate/bulk.json", "the bulk run's checkpoint: follow starts at the binlog position it recorded")
	from := fs.String("from", "", "binlog position to start from, file:pos (instead of the bulk run's)")
	fs.StringVar(&cfg.Checkpoint, "checkpoint", cfg.Checkpoint, "file recording the position applied: a follow started again continues from it")
	var serverID uint
	fs.UintVar(&serverID, "server-id", uint(cfg.ServerID), "replica server id, unique among the legacy database's replicas")
	fs.IntVar(&cfg.MaxBatch, "max-batch", cfg.MaxBatch, "most rows applied together")
	fs.IntVar(&cfg.Parallel, "parallel", cfg.Parallel, "rooms imported at once")
	fs.IntVar(&cfg.Attempts, "attempts", cfg.Attempts, "tries of one import call while write-api is unavailable")
	return server.Command(fs, args, func(ctx context.Context, log *zap.Logger) error {
		cfg.DSN, cfg.ServerID = *dsn, uint32(serverID)
		start, err := followStart(*from, *bulk)
		if err != nil {
			return err
		}
		cfg.Start = start
		db, err := openLegacy(ctx, *dsn, 2)
		if err != nil {
			return err
		}
		defer db.Close()
		conn, err := falcon.dial()
		if err != nil {
			return err
		}
		defer conn.Close()
		stats, err := migrate.Follow(ctx, db, falconv1.NewImportServiceClient(conn), cfg, log, func(s migrate.FollowStats) {
			log.Info("following", zap.String("binlog_file", s.Position.File), zap.Uint32("binlog_pos", s.Position.Pos),
				zap.Int64("rows", s.Rows), zap.Int64("transactions", s.Txns), zap.Duration("lag", s.Lag),
				zap.Any("insert_lag", s.InsertLag), zap.Int64("events", s.Counts.Events))
		})
		fmt.Printf("follow stopped at binlog %s:%d: %d rows in %d transactions applied (%d events); insert lag %v; rooms refused %d\n",
			stats.Position.File, stats.Position.Pos, stats.Rows, stats.Txns, stats.Counts.Events, stats.InsertLag, len(stats.Counts.FailedRooms))
		return err
	})
}

// followStart is --from, else the position the bulk run recorded.
func followStart(from, bulk string) (migrate.Position, error) {
	if from != "" {
		file, pos, ok := strings.Cut(from, ":")
		n, err := strconv.ParseUint(pos, 10, 32)
		if !ok || file == "" || err != nil {
			return migrate.Position{}, fmt.Errorf("--from %q: want file:pos, as SHOW MASTER STATUS shows", from)
		}
		return migrate.Position{File: file, Pos: uint32(n)}, nil
	}
	b, err := os.ReadFile(bulk)
	if err != nil {
		return migrate.Position{}, fmt.Errorf("no start position: the bulk checkpoint %s: %w (run bulk first, or give --from)", bulk, err)
	}
	var cp struct {
		Start migrate.Position `json:"start"`
	}
	if err := json.Unmarshal(b, &cp); err != nil || cp.Start.File == "" {
		return migrate.Position{}, fmt.Errorf("the bulk checkpoint %s records no binlog position (%v)", bulk, err)
	}
	return cp.Start, nil
}
