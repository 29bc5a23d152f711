package pionlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// record logs one message of each of pion's levels through a factory and
// returns the lines the slog handler wrote.
func record(t *testing.T, f func(*slog.Logger) Factory) []string {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: LevelTrace,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	l := f(slog.New(h)).NewLogger("ice")
	l.Trace("t")
	l.Tracef("t%d", 1)
	l.Debug("d")
	l.Debugf("d%d", 1)
	l.Info("i")
	l.Infof("i%d", 1)
	l.Warn("w")
	l.Warnf("w%d", 1)
	l.Error("e")
	l.Errorf("e%d", 1)
	return strings.Split(strings.TrimSpace(buf.String()), "\n")
}

func TestFactoryLevels(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(*slog.Logger) Factory
		want []string
	}{
		{
			name: "default drops debug and trace",
			f:    func(l *slog.Logger) Factory { return Factory{Log: l} },
			want: []string{
				"level=INFO msg=i pion=ice", "level=INFO msg=i1 pion=ice",
				"level=WARN msg=w pion=ice", "level=WARN msg=w1 pion=ice",
				"level=ERROR msg=e pion=ice", "level=ERROR msg=e1 pion=ice",
			},
		},
		{
			name: "verbose with info lowered to debug",
			f: func(l *slog.Logger) Factory {
				return Factory{Log: l, Info: slog.LevelDebug, Verbose: true}
			},
			want: []string{
				"level=DEBUG-4 msg=t pion=ice", "level=DEBUG-4 msg=t1 pion=ice",
				"level=DEBUG msg=d pion=ice", "level=DEBUG msg=d1 pion=ice",
				"level=DEBUG msg=i pion=ice", "level=DEBUG msg=i1 pion=ice",
				"level=WARN msg=w pion=ice", "level=WARN msg=w1 pion=ice",
				"level=ERROR msg=e pion=ice", "level=ERROR msg=e1 pion=ice",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := record(t, tc.f)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("logged\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
