package turn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// levelTrace is below slog's Debug, for pion's Trace.
const levelTrace = slog.LevelDebug - 4

// pionLoggerFactory bridges pion's LoggerFactory into a slog.Logger.
type pionLoggerFactory struct {
	log *slog.Logger
}

// NewLogger implements logging.LoggerFactory.
func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

// pionLogger implements logging.LeveledLogger on a slog.Logger. pion uses
// Info for per-request detail (each refused permission, each datagram
// without permission), so Info is logged at slog's Debug; Warn and Error
// keep their level.
type pionLogger struct {
	log *slog.Logger
}

func (l pionLogger) print(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l pionLogger) printf(level slog.Level, format string, args ...any) {
	// Format only when someone listens: pion logs per datagram at Debug.
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  { l.print(levelTrace, msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.printf(levelTrace, format, args...) }
func (l pionLogger) Debug(msg string)                  { l.print(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.printf(slog.LevelDebug, format, args...) }
func (l pionLogger) Info(msg string)                   { l.print(slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.printf(slog.LevelDebug, format, args...) }
func (l pionLogger) Warn(msg string)                   { l.print(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.printf(slog.LevelWarn, format, args...) }
func (l pionLogger) Error(msg string)                  { l.print(slog.LevelError, msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.printf(slog.LevelError, format, args...) }
