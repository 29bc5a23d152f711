package sfu

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogger bridges pion's leveled loggers into slog. Pion's debug and
// trace chatter is dropped; info and above keep their level.
type pionLogger struct{ log *slog.Logger }

func (f pionLogger) NewLogger(scope string) logging.LeveledLogger {
	return scopedLogger{f.log.With("pion", scope)}
}

type scopedLogger struct{ log *slog.Logger }

func (l scopedLogger) out(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l scopedLogger) Trace(string)              {}
func (l scopedLogger) Tracef(string, ...any)     {}
func (l scopedLogger) Debug(string)              {}
func (l scopedLogger) Debugf(string, ...any)     {}
func (l scopedLogger) Info(msg string)           { l.out(slog.LevelInfo, msg) }
func (l scopedLogger) Infof(f string, a ...any)  { l.out(slog.LevelInfo, fmt.Sprintf(f, a...)) }
func (l scopedLogger) Warn(msg string)           { l.out(slog.LevelWarn, msg) }
func (l scopedLogger) Warnf(f string, a ...any)  { l.out(slog.LevelWarn, fmt.Sprintf(f, a...)) }
func (l scopedLogger) Error(msg string)          { l.out(slog.LevelError, msg) }
func (l scopedLogger) Errorf(f string, a ...any) { l.out(slog.LevelError, fmt.Sprintf(f, a...)) }
