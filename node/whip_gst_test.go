package node

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

// The WHIP and WHEP endpoints with an independent implementation:
// GStreamer's webrtcbin, driven by testdata/gst_whip.py through Debian's
// python3-gi (.ci/test installs them).

// gstPython is Debian's interpreter, which has the gi bindings; the one
// first on PATH may be a build without them.
const gstPython = "/usr/bin/python3"

// gstClient is one run of testdata/gst_whip.py.
type gstClient struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan error
}

// startGst runs the script with args; it is killed when the test ends.
func startGst(t *testing.T, args ...string) *gstClient {
	t.Helper()
	if _, err := os.Stat(gstPython); err != nil {
		t.Fatalf("%s is needed (Debian's python3-gi and GStreamer; .ci/test installs them): %v", gstPython, err)
	}
	g := &gstClient{t: t, lines: make(chan string, 64), exited: make(chan error, 1)}
	g.cmd = exec.Command(gstPython, append([]string{"testdata/gst_whip.py"}, args...)...)
	g.cmd.Stderr = &lockedWriter{mu: &g.mu, w: &g.stderr}
	out, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case g.lines <- sc.Text():
			default: // ICE state chatter nobody waits for
			}
		}
		g.exited <- g.cmd.Wait()
		close(g.lines)
	}()
	t.Cleanup(func() {
		_ = g.cmd.Process.Kill()
		for range g.lines {
		}
	})
	return g
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// await returns the first line starting with prefix, failing the test if
// the script ends or within passes first.
func (g *gstClient) await(prefix string, within time.Duration) string {
	g.t.Helper()
	deadline := time.After(within)
	var seen []string
	for {
		select {
		case l, ok := <-g.lines:
			if !ok {
				g.mu.Lock()
				defer g.mu.Unlock()
				g.t.Fatalf("gst_whip.py ended before %q (it said %q): %s", prefix, seen, g.stderr.String())
			}
			seen = append(seen, l)
			if strings.HasPrefix(l, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(l, prefix))
			}
		case <-deadline:
			g.mu.Lock()
			defer g.mu.Unlock()
			g.t.Fatalf("gst_whip.py said no %q within %v (it said %q): %s", prefix, within, seen, g.stderr.String())
		}
	}
}

// startWHIPNode is a call node whose WHIP/WHEP sessions are removed two
// seconds after their connection is lost.
func startWHIPNode(t *testing.T) (*callNode, storage.Session, string) {
	t.Helper()
	cfg := testConfig(t, shortTempDir(t))
	cfg.Media.DirectTimeout = 2 * time.Second
	tn := startNode(t, cfg)
	cn := &callNode{testNode: tn, admin: tn.admin()}
	call := cn.createCall(t, cn.admin)
	return cn, call, cn.token(t, cn.admin)
}

func TestGStreamerPublishesAndPlaysThroughWHIPAndWHEP(t *testing.T) {
	cn, call, tok := startWHIPNode(t)
	base := cn.url + "/api/v1/calls/" + call.ID
	for _, video := range []string{"vp8", "h264"} {
		for _, bundle := range []string{"max-bundle", "max-compat"} {
			t.Run(video+"/"+bundle, func(t *testing.T) {
				pub := startGst(t, "publish", base+"/whip", tok, "--video", video, "--bundle", bundle)
				location := pub.await("location", 20*time.Second)
				pub.await("connected", 10*time.Second)
				eventually(t, 10*time.Second, "the publisher's audio and video tracks", func() bool {
					return metricValue(t, cn.n, "siteline_sfu_tracks") == 2
				})
				// A GStreamer player in the same layout decodes the video.
				player := startGst(t, "play", base+"/whep", tok, "--video", video, "--bundle", bundle, "--frames", "30")
				player.await("frames 30", 15*time.Second)
				if st, body := cn.admin.raw("DELETE", location, "", nil); st != 200 {
					t.Fatalf("DELETE %s = %d %s", location, st, body)
				}
				eventually(t, 10*time.Second, "the tracks to go with the DELETE", func() bool {
					return metricValue(t, cn.n, "siteline_sfu_tracks") == 0
				})
			})
		}
	}
}

func TestKilledGStreamerPublisherIsRemoved(t *testing.T) {
	cn, call, tok := startWHIPNode(t)
	pub := startGst(t, "publish", cn.url+"/api/v1/calls/"+call.ID+"/whip", tok)
	location := pub.await("location", 20*time.Second)
	pub.await("connected", 10*time.Second)
	eventually(t, 10*time.Second, "the publisher's tracks", func() bool {
		return metricValue(t, cn.n, "siteline_sfu_tracks") == 2
	})
	if err := pub.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// pion calls the connection disconnected after 5 s without a packet;
	// the session goes media.direct_timeout (2 s here) later.
	eventually(t, 15*time.Second, "the killed publisher's tracks to go", func() bool {
		return metricValue(t, cn.n, "siteline_sfu_tracks") == 0 && metricValue(t, cn.n, "siteline_sfu_participants") == 0
	})
	ctx := context.Background()
	eventually(t, 10*time.Second, "the publisher's left event", func() bool {
		evs, _ := cn.n.Store().SessionEvents(ctx, call.ID)
		for _, e := range evs {
			if e.Kind == storage.EventLeft {
				return true
			}
		}
		return false
	})
	var e web.ErrorBody
	if st := cn.admin.do("DELETE", location, nil, &e); st != 404 {
		t.Errorf("DELETE of the removed session = %d %+v, want 404", st, e)
	}
}
