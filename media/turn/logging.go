package turn

import (
	"log/slog"

	"siteline/media/internal/pionlog"
)

// pionLogs hands pion/turn's logs to log. pion uses Info for per-request
// detail (each refused permission, each datagram without permission), so
// Info is logged at slog's Debug; Warn and Error keep their level.
func pionLogs(log *slog.Logger) pionlog.Factory {
	return pionlog.Factory{Log: log, Info: slog.LevelDebug, Verbose: true}
}
