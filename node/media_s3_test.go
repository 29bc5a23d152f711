package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"siteline/internal/s3test"
	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/sfu"
	"siteline/storage/blob"
	"siteline/web"
)

// TestMediaOnS3: a node whose storage.media is a bucket of a real S3
// server (versitygw on loopback) keeps a file shared in a call and a
// recording there, under their SHA-256 and nowhere on its disk; serves
// them whole and by byte ranges; and deleting them removes their
// objects. A bucket that does not exist stops the start with an error
// naming it; the secret key shows in no error and no log line.
func TestMediaOnS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	const prefix = "plant-7/"
	onS3 := func(c *Config) {
		c.Log.Level = "debug"
		c.Storage.Media = MediaStoreConfig{Driver: mediaDriverS3, Endpoint: srv.Endpoint, Bucket: bucket,
			Region: s3test.Region, Prefix: prefix, AccessKey: srv.AccessKey, SecretKey: blob.Secret(srv.SecretKey)}
	}

	// A bucket that is not there: the start stops, saying so.
	cfg := testConfig(t, shortTempDir(t))
	onS3(&cfg)
	cfg.Storage.Media.Bucket = "no-such-bucket"
	failed := testutil.NewLog(t)
	n, err := New(cfg, cheapHashes(Options{LogOutput: failed}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = n.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), `s3 bucket "no-such-bucket" at `+srv.Endpoint+": no such bucket") {
		t.Fatalf("start with a missing bucket = %v", err)
	}
	if strings.Contains(err.Error(), srv.SecretKey) || strings.Contains(failed.String(), srv.SecretKey) {
		t.Errorf("the failed start shows the secret key")
	}

	log := testutil.NewLog(t)
	cfg = testConfig(t, shortTempDir(t))
	onS3(&cfg)
	tn := startNodeWith(t, cfg, Options{LogOutput: log})
	cn := &callNode{testNode: tn, admin: tn.admin()}
	if st := cn.admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Name: "Tom Tech",
		Password: "tech's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create tech = %d", st)
	}
	cn.tech = tn.login("tech@plant.example", "tech's password 1")
	objects := func() []string { return srv.Objects(t, bucket, "") }

	// A file shared in the call goes up under its SHA-256.
	call := cn.createCall(t, cn.tech)
	tom := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	data := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("page of the pump manual\n"), 20000)...)
	st, body := cn.tech.upload("/api/v1/calls/"+call.ID+"/media", map[string]string{"participant": tom.ID()},
		"Pump manual.pdf", "application/pdf", data)
	m := mustMedia(t, st, body)
	if got := objects(); !slices.Equal(got, []string{prefix + m.SHA256}) {
		t.Fatalf("objects after the upload = %v, want %s", got, prefix+m.SHA256)
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.DataDir, mediaDir)); len(entries) != 0 {
		t.Errorf("the node's disk holds media: %v", entries)
	}
	if stored, err := os.ReadFile(filepath.Join(srv.Dir, bucket, prefix+m.SHA256)); err != nil || !bytes.Equal(stored, data) {
		t.Errorf("the server's file of the upload: %d bytes, %v", len(stored), err)
	}

	// Served whole and by ranges.
	resp, got := cn.admin.get(m.URL, nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("download = %d, %d bytes, want %d", resp.StatusCode, len(got), len(data))
	}
	size := len(data)
	for _, tc := range []struct {
		rng        string
		start, end int // inclusive
	}{
		{"bytes=100000-199999", 100000, 199999},
		{"bytes=-50", size - 50, size - 1},
		{"bytes=10-", 10, size - 1},
	} {
		resp, got := cn.admin.get(m.URL, map[string]string{"Range": tc.rng})
		want := "bytes " + strconv.Itoa(tc.start) + "-" + strconv.Itoa(tc.end) + "/" + strconv.Itoa(size)
		if resp.StatusCode != 206 || !bytes.Equal(got, data[tc.start:tc.end+1]) || resp.Header.Get("Content-Range") != want {
			t.Errorf("Range %s = %d, %d bytes, %q; want 206, %d bytes, %q", tc.rng, resp.StatusCode, len(got),
				resp.Header.Get("Content-Range"), tc.end-tc.start+1, want)
		}
	}

	// A recording moves from the recording directory to the bucket and
	// plays by ranges.
	dir := filepath.Join(cfg.DataDir, "recording")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f := writeWebM(t, dir, call.ID+"-"+tom.ID()+"-1700000000000")
	video, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	by := sfu.ParticipantInfo{ID: tom.ID(), UserID: "someone", Name: "Tom"}
	if err := cn.n.calls.StoreRecording(context.Background(), call.ID, by, time.Now(), f); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Path); !os.IsNotExist(err) {
		t.Errorf("recording file still on the node's disk: %v", err)
	}
	recs, err := cn.n.store.SessionRecordings(context.Background(), call.ID)
	if err != nil || len(recs) != 1 {
		t.Fatalf("recordings = %+v, %v", recs, err)
	}
	rec := recs[0]
	if !slices.Contains(objects(), prefix+rec.SHA256) {
		t.Fatalf("objects after the recording = %v, want %s among them", objects(), prefix+rec.SHA256)
	}
	resp, part := cn.tech.get(web.RecordingURL(rec.ID), map[string]string{"Range": "bytes=200-1199"})
	if resp.StatusCode != 206 || !bytes.Equal(part, video[200:1200]) {
		t.Errorf("recording range = %d, %d bytes", resp.StatusCode, len(part))
	}

	// Deleted: the objects go, and the bytes are 410.
	if code := cn.admin.do("DELETE", web.MediaURL(m.ID), nil, nil); code != 200 {
		t.Fatalf("delete media = %d", code)
	}
	if code := cn.admin.do("DELETE", web.RecordingURL(rec.ID), nil, nil); code != 200 {
		t.Fatalf("delete recording = %d", code)
	}
	if got := objects(); len(got) != 0 {
		t.Errorf("objects after the deletions = %v, want none", got)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, bucket, prefix+m.SHA256)); !os.IsNotExist(err) {
		t.Errorf("the server still keeps the deleted file: %v", err)
	}
	if resp, _ := cn.admin.get(m.URL, nil); resp.StatusCode != 410 {
		t.Errorf("deleted media = %d, want 410", resp.StatusCode)
	}

	if strings.Contains(log.String(), srv.SecretKey) {
		t.Error("the node's log shows the secret key")
	}
	if !strings.Contains(log.String(), bucket) {
		t.Errorf("the node's log does not name its media bucket")
	}
}
