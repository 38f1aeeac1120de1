package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"

	// The legacy database's driver.
	_ "github.com/go-sql-driver/mysql"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/legacydb"
	"github.com/falcon-chat/falcon/libs/progress"
	"github.com/falcon-chat/falcon/libs/server"
)

const migrateUsage = `usage: falcon migrate <command> [flags]

commands:
  seed   fill the legacy database with a synthetic history (tests, benchmarks)

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
