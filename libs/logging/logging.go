// Package logging builds the zap logger every service uses, and the fields
// that tie a log line to the request it was made for.
package logging

import (
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a JSON logger at level (debug, info, warn, error), and the
// level, which can be changed while the logger runs (the admin port's
// /log/level).
func New(level string) (*zap.Logger, zap.AtomicLevel, error) {
	var l zapcore.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("--log-level=%q: want debug, info, warn or error", level)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(l)
	cfg.EncoderConfig.TimeKey = "time"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.Sampling = nil
	log, err := cfg.Build()
	return log, cfg.Level, err
}
