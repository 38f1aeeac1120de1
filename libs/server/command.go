package server

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/logging"
)

// Command is the one process runner: it parses fs from args (a flag given
// wins, then its FALCON_* variable, then the default; --log-level is added
// if fs lacks it), builds the logger, and calls run with a context that
// ends at SIGINT or SIGTERM. -h prints the flags and returns nil.
func Command(fs *flag.FlagSet, args []string, run func(ctx context.Context, log *zap.Logger) error) error {
	return command(fs, args, func(ctx context.Context, log *zap.Logger, _ zap.AtomicLevel) error { return run(ctx, log) })
}

// command is Command, giving run the logger's level too.
func command(fs *flag.FlagSet, args []string, run func(ctx context.Context, log *zap.Logger, level zap.AtomicLevel) error) error {
	if fs.Lookup("log-level") == nil {
		fs.String("log-level", "info", "log level: debug, info, warn, error")
	}
	if err := flagenv.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log, level, err := logging.New(fs.Lookup("log-level").Value.String())
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, log, level)
}
