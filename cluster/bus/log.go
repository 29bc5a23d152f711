package bus

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
)

// levelTrace is the slog level NATS traces map to: below Debug, so a
// handler at Debug does not print them.
const levelTrace = slog.LevelDebug - 4

// natsLogger is the server's Logger writing to slog, so the embedded server
// prints nothing by itself.
type natsLogger struct {
	log *slog.Logger
}

var _ server.Logger = (*natsLogger)(nil)

func (l *natsLogger) enabled(level slog.Level) bool {
	return l.log.Enabled(context.Background(), level)
}

func (l *natsLogger) logf(level slog.Level, format string, v []any) {
	if !l.enabled(level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

// Noticef implements server.Logger. The server's notices are its start-up
// banner and routine lifecycle lines; the bus logs its own start at Info, so
// they go to Debug.
func (l *natsLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

// Warnf implements server.Logger.
func (l *natsLogger) Warnf(format string, v ...any) { l.logf(slog.LevelWarn, format, v) }

// Fatalf implements server.Logger. Unlike the server's own logger it does
// not exit the process: the node decides what a failed part means.
func (l *natsLogger) Fatalf(format string, v ...any) {
	l.logf(slog.LevelError, "fatal: "+format, v)
}

// Errorf implements server.Logger.
func (l *natsLogger) Errorf(format string, v ...any) { l.logf(slog.LevelError, format, v) }

// Debugf implements server.Logger.
func (l *natsLogger) Debugf(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

// Tracef implements server.Logger.
func (l *natsLogger) Tracef(format string, v ...any) { l.logf(levelTrace, format, v) }
