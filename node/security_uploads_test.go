package node

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"siteline/media/client"
	"siteline/storage"
	"siteline/web"
)

// uploadConn is a raw connection that sends an upload's headers and its
// body in pieces, as a slow or hostile client does.
type uploadConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	sent int64 // body bytes written
}

// openUpload sends the request line and headers of a POST to path;
// length < 0 sends the body chunked.
func openUpload(t *testing.T, base, path string, headers map[string]string, length int64) *uploadConn {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var h strings.Builder
	fmt.Fprintf(&h, "POST %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n", path, host)
	if length >= 0 {
		fmt.Fprintf(&h, "Content-Length: %d\r\n", length)
	} else {
		h.WriteString("Transfer-Encoding: chunked\r\n")
	}
	for k, v := range headers {
		fmt.Fprintf(&h, "%s: %s\r\n", k, v)
	}
	h.WriteString("\r\n")
	if _, err := io.WriteString(conn, h.String()); err != nil {
		t.Fatal(err)
	}
	return &uploadConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// write sends body bytes (one chunk when chunked is set).
func (u *uploadConn) write(p []byte, chunked bool) error {
	u.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if chunked {
		if _, err := fmt.Fprintf(u.conn, "%x\r\n", len(p)); err != nil {
			return err
		}
	}
	n, err := u.conn.Write(p)
	u.sent += int64(n)
	if err == nil && chunked {
		_, err = io.WriteString(u.conn, "\r\n")
	}
	return err
}

// answer reads the response, waiting at most 15 s for it.
func (u *uploadConn) answer() (*http.Response, []byte, error) {
	u.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(u.r, nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

// An upload is authenticated before its body is read: a caller without a
// valid session or token is refused after the first few kilobytes, the
// connection is closed, and the rest of a body of tens of megabytes is
// never read (issue 13, item 2).
func TestUploadRefusedBeforeItsBodyIsRead(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	path := "/api/v1/calls/" + call.ID + "/media"
	const mib = 1 << 20
	multipart := "multipart/form-data; boundary=x"
	cases := []struct {
		name    string
		headers map[string]string
		length  int64 // < 0: chunked
		status  int
	}{
		{"forged session cookie", map[string]string{"Content-Type": multipart, "Cookie": web.SessionCookie + "=forged"}, 40 * mib, 401},
		{"forged API token", map[string]string{"Content-Type": multipart, "Authorization": "Bearer " + web.TokenPrefix + "forged"}, 40 * mib, 401},
		{"anonymous, chunked", map[string]string{"Content-Type": multipart}, -1, 401},
		{"forged cookie, chunked", map[string]string{"Content-Type": multipart, "Cookie": web.SessionCookie + "=forged"}, -1, 401},
		{"anonymous, over media.max_upload", map[string]string{"Content-Type": multipart}, 60 * mib, 413},
	}
	// The start of a well-formed form, so that nothing but the caller
	// is wrong with it, then filler.
	start := []byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n")
	piece := bytes.Repeat([]byte("x"), 64<<10)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := openUpload(t, cn.url, path, tc.headers, tc.length)
			chunked := tc.length < 0
			if tc.status == 401 {
				// The first 64 KiB of the body, and not a byte more
				// until the node answers. It may answer, and close,
				// before they arrive.
				_ = u.write(append(start, piece...), chunked)
			}
			resp, data, err := u.answer()
			if err != nil {
				t.Fatalf("no answer after %d bytes of the body: %v (the node waits for the rest)", u.sent, err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d %s, want %d", resp.StatusCode, data, tc.status)
			}
			if !resp.Close {
				t.Errorf("the connection stays open (Connection: %q): the unread body would be parsed as the next request", resp.Header.Get("Connection"))
			}
			// The node closed the connection: the rest of the 40 MiB
			// cannot be sent. Loopback socket buffers take a few
			// megabytes at most.
			for u.sent < 40*mib {
				if err := u.write(piece, chunked); err != nil {
					break
				}
			}
			if u.sent >= 40*mib {
				t.Errorf("the node accepted all %d bytes of a refused upload", u.sent)
			}
		})
	}
	// Nothing was stored, not even a temporary file.
	assertBlobFiles(t, diskBlobs(t, cn.testNode).Dir())
}

// Uploads stream to a temporary file of the blob store as they arrive,
// and no more than media.max_concurrent_uploads run at once: the next gets
// 503 naming the key until one ends (issue 13, item 2).
func TestUploadsStreamToDiskAndAreCapped(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.Media.MaxConcurrentUploads = 1
	tn := startNode(t, cfg)
	admin := tn.admin()
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Name: "Tom Tech",
		Password: "tech's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create tech = %d", st)
	}
	cn := &callNode{testNode: tn, admin: admin, tech: tn.login("tech@plant.example", "tech's password 1")}
	call := cn.createCall(t, cn.tech)
	path := "/api/v1/calls/" + call.ID + "/media"
	tech := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	ada := cn.join(t, cn.admin, call.ID, "Ada", client.Config{})

	// Ada's upload of 2 MiB: its fields, then the first 256 KiB of the file.
	file := bytes.Repeat([]byte("0123456789abcdef"), 128<<10)
	head := "--x\r\nContent-Disposition: form-data; name=\"participant\"\r\n\r\n" + ada.ID() + "\r\n" +
		"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--x--\r\n"
	u := openUpload(t, cn.url, path, map[string]string{"Content-Type": "multipart/form-data; boundary=x",
		"Cookie": web.SessionCookie + "=" + cn.admin.cookie, web.CSRFHeader: cn.admin.csrf},
		int64(len(head)+len(file)+len(tail)))
	if err := u.write(append([]byte(head), file[:256<<10]...), false); err != nil {
		t.Fatal(err)
	}

	// What arrived is already in a temporary file of the blob store.
	dir := diskBlobs(t, cn.testNode).Dir()
	deadline := time.Now().Add(10 * time.Second)
	for !tempFileOver(t, dir, 128<<10) {
		if time.Now().After(deadline) {
			t.Fatal("no temporary file of 128 KiB in the blob store while the upload arrives: the body is buffered, not streamed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// While it runs, Tom's upload is refused, and nothing of it kept.
	st, body := cn.tech.upload(path, map[string]string{"participant": tech.ID()}, "small.txt", "text/plain", []byte("hello"))
	if e := apiError(t, body); st != 503 || !strings.Contains(e.Error, "media.max_concurrent_uploads") {
		t.Errorf("second upload while one runs = %d %q, want 503 naming media.max_concurrent_uploads", st, e.Error)
	}

	// Ada's upload ends, and is stored whole.
	if err := u.write(append(file[256<<10:], tail...), false); err != nil {
		t.Fatal(err)
	}
	resp, data, err := u.answer()
	if err != nil {
		t.Fatal(err)
	}
	m := mustMedia(t, resp.StatusCode, data)
	if m.Size != int64(len(file)) || m.Name != "big.bin" {
		t.Errorf("stored %d bytes named %q, want %d named big.bin", m.Size, m.Name, len(file))
	}
	got, data := cn.admin.get(m.URL, nil)
	if got.StatusCode != 200 || !bytes.Equal(data, file) {
		t.Errorf("download = %d, %d bytes, want the %d bytes sent", got.StatusCode, len(data), len(file))
	}

	// The slot is free again.
	st, body = cn.tech.upload(path, map[string]string{"participant": tech.ID()}, "small.txt", "text/plain", []byte("hello"))
	mustMedia(t, st, body)
}

// tempFileOver reports whether dir holds a blob being written of more
// than n bytes.
func tempFileOver(t *testing.T, dir string, n int64) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), blobTempPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Size() > n {
			return true
		}
	}
	return false
}

// A chunked upload, whose length is not known in advance, streams too:
// under the limit it is stored, over it it is refused with 413 and nothing
// is kept (issue 13, item 2).
func TestUploadChunked(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.Media.MaxUpload = 1 << 20
	tn := startNode(t, cfg)
	cn := &callNode{testNode: tn, admin: tn.admin()}
	call := cn.createCall(t, cn.admin)
	ada := cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	path := "/api/v1/calls/" + call.ID + "/media"
	send := func(size int) (*http.Response, []byte, error) {
		u := openUpload(t, cn.url, path, map[string]string{"Content-Type": "multipart/form-data; boundary=x",
			"Cookie": web.SessionCookie + "=" + cn.admin.cookie, web.CSRFHeader: cn.admin.csrf}, -1)
		body := "--x\r\nContent-Disposition: form-data; name=\"participant\"\r\n\r\n" + ada.ID() + "\r\n" +
			"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.bin\"\r\n\r\n" +
			strings.Repeat("c", size) + "\r\n--x--\r\n"
		for p := []byte(body); len(p) > 0; {
			n := min(len(p), 32<<10)
			if err := u.write(p[:n], true); err != nil {
				break // refused: the answer says why
			}
			p = p[n:]
		}
		io.WriteString(u.conn, "0\r\n\r\n")
		return u.answer()
	}
	resp, data, err := send(300 << 10)
	if err != nil {
		t.Fatal(err)
	}
	m := mustMedia(t, resp.StatusCode, data)
	if m.Size != 300<<10 {
		t.Errorf("stored %d bytes, want %d", m.Size, 300<<10)
	}
	resp, data, err = send(2 << 20)
	if err != nil {
		t.Fatalf("chunked upload over the limit: %v", err)
	}
	if e := apiError(t, data); resp.StatusCode != 413 || !strings.Contains(e.Error, "media.max_upload") {
		t.Errorf("chunked upload over the limit = %d %q, want 413 naming media.max_upload", resp.StatusCode, e.Error)
	}
	// The fields come before the file, which is read as it arrives: a
	// field after it is refused and nothing of it kept.
	form := "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"late.txt\"\r\n\r\nlate\r\n" +
		"--x\r\nContent-Disposition: form-data; name=\"participant\"\r\n\r\n" + ada.ID() + "\r\n--x--\r\n"
	st, body := cn.admin.raw("POST", path, "multipart/form-data; boundary=x", strings.NewReader(form))
	if e := apiError(t, body); st != 400 || !strings.Contains(e.Error, "last part") {
		t.Errorf("a field after the file = %d %q, want 400 saying the file is the last part", st, e.Error)
	}
	assertBlobFiles(t, diskBlobs(t, cn.testNode).Dir(), m.SHA256)
}

// Uploaded files are kept and served as the type their bytes show, from
// an allow-list, never as the type the client declared; only images,
// videos and PDFs may be shown inline, the rest are attachments, always
// with nosniff. A row that says otherwise (stored before, or forwarded
// from another site) is served the same way (issue 13, item 25).
func TestUploadedFilesServedWithSniffedType(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	tech := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	path := "/api/v1/calls/" + call.ID + "/media"
	mine := map[string]string{"participant": tech.ID()}
	png := pngBytes(64)
	cases := []struct {
		name, declared string
		data           []byte
		stored         string
		disposition    string
	}{
		{"page.html", "text/html", []byte("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"), "application/octet-stream", "attachment"},
		{"logo.svg", "image/svg+xml", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "application/octet-stream", "attachment"},
		{"notes.txt", "application/javascript", []byte("torque 45 Nm\n"), "text/plain; charset=utf-8", "attachment"},
		{"photo.png", "text/html", png, "image/png", "attachment"},
		{"manual.pdf", "application/pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), "application/pdf", "attachment"},
	}
	for _, tc := range cases {
		st, body := cn.tech.upload(path, mine, tc.name, tc.declared, tc.data)
		m := mustMedia(t, st, body)
		if m.ContentType != tc.stored {
			t.Errorf("%s declared %s: stored as %q, want %q", tc.name, tc.declared, m.ContentType, tc.stored)
		}
		resp, _ := cn.tech.get(m.URL, nil)
		checkServed(t, tc.name, resp, tc.stored, tc.disposition)
	}

	// Rows that carry a dangerous type of their own: a "snapshot" whose
	// bytes are a page, a file typed text/html.
	ctx := context.Background()
	page := []byte("<html><body onload=alert(1)>hi</body></html>")
	for _, kind := range []string{storage.MediaSnapshot, storage.MediaFile} {
		b, err := cn.n.blobs.Put(bytes.NewReader(append(page, kind...)), 0)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		m := storage.Media{ID: newID(), SessionID: call.ID, OrgID: cn.n.OrgID(), Kind: kind, Name: "x.html",
			BlobKey: b.Key, ContentType: "text/html", Size: b.Size, SHA256: b.Key, CreatedBy: "u", CreatedAt: now}
		ev := storage.SessionEvent{ID: newID(), SessionID: call.ID, At: now, Kind: storage.EventFile, ActorID: "u",
			Payload: payload(map[string]any{"media": m.ID})}
		if err := cn.n.store.AddMedia(ctx, m, ev); err != nil {
			t.Fatal(err)
		}
		resp, _ := cn.tech.get(web.MediaURL(m.ID), nil)
		checkServed(t, "a "+kind+" row typed text/html", resp, "application/octet-stream", "attachment")
	}

	// A snapshot, an image, is still shown inline.
	st, body := cn.tech.upload(path, map[string]string{"participant": tech.ID(), "kind": "snapshot"}, "s.png", "image/png", png)
	snap := mustMedia(t, st, body)
	resp, _ := cn.tech.get(snap.URL, nil)
	checkServed(t, "snapshot", resp, "image/png", "inline")
}

// checkServed checks the type, disposition and nosniff of a download.
func checkServed(t *testing.T, what string, resp *http.Response, ctype, disposition string) {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Errorf("%s: download = %d", what, resp.StatusCode)
		return
	}
	if got := resp.Header.Get("Content-Type"); got != ctype {
		t.Errorf("%s: served as %q, want %q", what, got, ctype)
	}
	if got := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(got, disposition) {
		t.Errorf("%s: Content-Disposition %q, want %s", what, got, disposition)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
	}
}
