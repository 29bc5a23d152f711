package node

import (
	"os"
	"path/filepath"
	"strings"
)

// recordDir is where the SFU writes recordings while they run. Finished
// files move into the media store; what a crash left behind (temporary
// files, never acknowledged) is removed when the media starts.
func (n *Node) recordDir() string {
	dir := filepath.Join(n.cfg.DataDir, "recording")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		n.log.Error("recording directory; recording is off", "dir", dir, "err", err)
		return ""
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".webm.tmp") {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	return dir
}
