// Package pionlog hands pion's leveled logs to a slog.Logger, for the SFU
// and the TURN relay.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// LevelTrace is below slog's Debug, for pion's Trace.
const LevelTrace = slog.LevelDebug - 4

// Factory implements logging.LoggerFactory on a slog.Logger. Each logger
// it makes tags its records with pion's scope ("pion", "ice"). Warn and
// Error keep their level.
type Factory struct {
	Log *slog.Logger
	// Info is the slog level of pion's Info (zero: slog.LevelInfo).
	// pion/turn logs per-request detail at Info (each refused permission,
	// each datagram without one), so the relay lowers it to Debug.
	Info slog.Level
	// Verbose keeps pion's Debug and Trace, at slog's Debug and LevelTrace;
	// otherwise they are dropped whatever the logger's level.
	Verbose bool
}

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{log: f.Log.With("pion", scope), info: f.Info, verbose: f.Verbose}
}

type logger struct {
	log     *slog.Logger
	info    slog.Level
	verbose bool
}

func (l logger) print(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l logger) printf(level slog.Level, format string, args ...any) {
	// Format only when someone listens: pion logs per datagram at Debug.
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l logger) Trace(msg string) {
	if l.verbose {
		l.print(LevelTrace, msg)
	}
}

func (l logger) Tracef(format string, args ...any) {
	if l.verbose {
		l.printf(LevelTrace, format, args...)
	}
}

func (l logger) Debug(msg string) {
	if l.verbose {
		l.print(slog.LevelDebug, msg)
	}
}

func (l logger) Debugf(format string, args ...any) {
	if l.verbose {
		l.printf(slog.LevelDebug, format, args...)
	}
}

func (l logger) Info(msg string)                   { l.print(l.info, msg) }
func (l logger) Infof(format string, args ...any)  { l.printf(l.info, format, args...) }
func (l logger) Warn(msg string)                   { l.print(slog.LevelWarn, msg) }
func (l logger) Warnf(format string, args ...any)  { l.printf(slog.LevelWarn, format, args...) }
func (l logger) Error(msg string)                  { l.print(slog.LevelError, msg) }
func (l logger) Errorf(format string, args ...any) { l.printf(slog.LevelError, format, args...) }
