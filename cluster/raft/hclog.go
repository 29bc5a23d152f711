package raft

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// levelTrace is the slog level hclog's Trace maps to: below Debug, so a
// handler at Debug does not print it.
const levelTrace = slog.LevelDebug - 4

// hclogAdapter is an hclog.Logger that writes to a *slog.Logger, so that
// raft and its transport log through the node's logger and print nothing by
// themselves.
type hclogAdapter struct {
	base    *slog.Logger // with the implied args, without the name
	log     *slog.Logger // base with the name as a "logger" attribute
	name    string
	implied []any
	// level is an extra floor set by SetLevel (hclog.NoLevel: none); the
	// slog handler's own level still applies.
	level *atomic.Int32
}

var _ hclog.Logger = (*hclogAdapter)(nil)

func newHCLogAdapter(l *slog.Logger, name string) *hclogAdapter {
	lv := new(atomic.Int32)
	lv.Store(int32(hclog.NoLevel))
	return &hclogAdapter{base: l, log: l.With("logger", name), name: name, level: lv}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return levelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default: // Info, NoLevel, Off, DefaultLevel
		return slog.LevelInfo
	}
}

func (a *hclogAdapter) enabled(l hclog.Level) bool {
	floor := hclog.Level(a.level.Load())
	if floor == hclog.Off {
		return false
	}
	if floor != hclog.NoLevel && l < floor {
		return false
	}
	return a.log.Enabled(context.Background(), slogLevel(l))
}

// Log implements hclog.Logger.
func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if !a.enabled(level) {
		return
	}
	a.log.Log(context.Background(), slogLevel(level), msg, convertArgs(args)...)
}

// convertArgs turns hclog key/value pairs into slog ones. hclog allows a
// trailing lone value and hclog.Format values; slog handles the former
// (!BADKEY) and the latter is rendered here.
func convertArgs(args []any) []any {
	var out []any // a copy, made only when needed: args belongs to the caller
	for i, v := range args {
		if f, ok := v.(hclog.Format); ok && len(f) > 0 {
			if s, ok := f[0].(string); ok {
				if out == nil {
					out = append([]any(nil), args...)
				}
				out[i] = fmt.Sprintf(s, f[1:]...)
			}
		}
	}
	if out == nil {
		return args
	}
	return out
}

// Trace implements hclog.Logger.
func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (a *hclogAdapter) Info(msg string, args ...any) { a.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (a *hclogAdapter) Warn(msg string, args ...any) { a.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

// IsTrace implements hclog.Logger.
func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }

// IsDebug implements hclog.Logger.
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }

// IsInfo implements hclog.Logger.
func (a *hclogAdapter) IsInfo() bool { return a.enabled(hclog.Info) }

// IsWarn implements hclog.Logger.
func (a *hclogAdapter) IsWarn() bool { return a.enabled(hclog.Warn) }

// IsError implements hclog.Logger.
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

// ImpliedArgs implements hclog.Logger.
func (a *hclogAdapter) ImpliedArgs() []any { return a.implied }

// With implements hclog.Logger.
func (a *hclogAdapter) With(args ...any) hclog.Logger {
	implied := append(append([]any(nil), a.implied...), args...)
	base := a.base.With(convertArgs(args)...)
	return &hclogAdapter{base: base, log: base.With("logger", a.name), name: a.name, implied: implied, level: a.level}
}

// Name implements hclog.Logger.
func (a *hclogAdapter) Name() string { return a.name }

// Named implements hclog.Logger.
func (a *hclogAdapter) Named(name string) hclog.Logger {
	if a.name != "" {
		name = a.name + "." + name
	}
	return a.ResetNamed(name)
}

// ResetNamed implements hclog.Logger.
func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return &hclogAdapter{base: a.base, log: a.base.With("logger", name), name: name, implied: a.implied, level: a.level}
}

// SetLevel implements hclog.Logger. It sets a floor shared with the loggers
// derived from this one; the slog handler's level still applies.
func (a *hclogAdapter) SetLevel(level hclog.Level) { a.level.Store(int32(level)) }

// GetLevel implements hclog.Logger.
func (a *hclogAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

// StandardLogger implements hclog.Logger.
func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter implements hclog.Logger: each line written becomes one
// record, at the level its "[LEVEL]" prefix names (Info when there is none,
// or opts.ForceLevel when set).
func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	force := hclog.NoLevel
	if opts != nil {
		force = opts.ForceLevel
	}
	return &stdWriter{a: a, force: force}
}

type stdWriter struct {
	a     *hclogAdapter
	force hclog.Level
}

func (w *stdWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		msg := strings.TrimSpace(string(line))
		if msg == "" {
			continue
		}
		level := hclog.Info
		for _, c := range []struct {
			prefix string
			level  hclog.Level
		}{
			{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
			{"[WARN]", hclog.Warn}, {"[ERR]", hclog.Error}, {"[ERROR]", hclog.Error},
		} {
			if rest, ok := strings.CutPrefix(msg, c.prefix); ok {
				msg, level = strings.TrimSpace(rest), c.level
				break
			}
		}
		if w.force != hclog.NoLevel {
			level = w.force
		}
		w.a.Log(level, msg)
	}
	return len(p), nil
}
