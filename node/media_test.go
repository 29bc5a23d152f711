package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"siteline/media/client"
	"siteline/media/signal"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// mediaJSON is the media JSON of the API.
type mediaJSON struct {
	storage.Media
	URL string `json:"url"`
}

// upload posts a multipart form with one file part.
func (b *browser) upload(path string, fields map[string]string, name, contentType string, data []byte) (int, []byte) {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			b.t.Fatal(err)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	pw, err := mw.CreatePart(h)
	if err != nil {
		b.t.Fatal(err)
	}
	pw.Write(data)
	mw.Close()
	return b.raw("POST", path, mw.FormDataContentType(), &buf)
}

// get fetches path with extra headers and returns the whole response.
func (b *browser) get(path string, headers map[string]string) (*http.Response, []byte) {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: b.cookie})
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, data
}

func mustMedia(t *testing.T, st int, data []byte) mediaJSON {
	t.Helper()
	if st != 201 {
		t.Fatalf("upload = %d %s", st, data)
	}
	var m mediaJSON
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// pngBytes is a PNG signature followed by filler: enough for the checks,
// which read the first bytes.
func pngBytes(n int) []byte {
	return append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, n)...)
}

func TestMediaUploadDownloadAndAnnounce(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	tech := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	ada := cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Ada's client checks, the moment it is told, that the file is
	// already in the session's history.
	told := make(chan string, 1)
	go func() {
		m, err := ada.Next(ctx, func(m signal.Message) bool { return m.Type == signal.TypeMedia })
		if err != nil {
			told <- "no media message: " + err.Error()
			return
		}
		evs, err := cn.n.Store().SessionEvents(ctx, call.ID)
		if err != nil {
			told <- err.Error()
			return
		}
		for _, ev := range evs {
			var p struct{ Media string }
			_ = json.Unmarshal(ev.Payload, &p)
			if ev.Kind == storage.EventFile && p.Media == m.Media.ID {
				told <- "ok " + m.Media.ID + " " + m.Media.URL + " " + m.Media.By
				return
			}
		}
		told <- fmt.Sprintf("told of %s before its event was written: %+v", m.Media.ID, evs)
	}()

	// A PDF by its first bytes: files are kept as the type their bytes show.
	data := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("page of the pump manual\n"), 5000)...)
	sum := sha256.Sum256(data)
	st, body := cn.tech.upload("/api/v1/calls/"+call.ID+"/media", map[string]string{"participant": tech.ID()},
		"Pump manual ü.pdf", "application/pdf", data)
	m := mustMedia(t, st, body)
	if m.Kind != "file" || m.Name != "Pump manual ü.pdf" || m.ContentType != "application/pdf" || m.Size != int64(len(data)) ||
		m.SHA256 != hex.EncodeToString(sum[:]) || m.URL != "/api/v1/media/"+m.ID || m.Participant != tech.ID() || m.SessionID != call.ID {
		t.Fatalf("uploaded media = %+v", m)
	}
	select {
	case got := <-told:
		if want := "ok " + m.ID + " " + m.URL + " " + tech.ID(); got != want {
			t.Fatalf("media message: %s, want %s", got, want)
		}
	case <-ctx.Done():
		t.Fatal("no media message")
	}

	// Download: the same bytes, with the stored type, as an attachment.
	resp, got := cn.admin.get(m.URL, nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("download = %d, %d bytes, want %d", resp.StatusCode, len(got), len(data))
	}
	for k, want := range map[string]string{
		"Content-Type":           "application/pdf",
		"Content-Disposition":    "attachment; filename*=utf-8''Pump%20manual%20%C3%BC.pdf",
		"X-Content-Type-Options": "nosniff",
		"Etag":                   `"` + m.SHA256 + `"`,
	} {
		if v := resp.Header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if resp, _ := cn.admin.get(m.URL, map[string]string{"If-None-Match": `"` + m.SHA256 + `"`}); resp.StatusCode != 304 {
		t.Errorf("conditional download = %d, want 304", resp.StatusCode)
	}

	// A snapshot of Ada's video, with a drawing: shown inline.
	st, body = cn.tech.upload("/api/v1/calls/"+call.ID+"/media", map[string]string{"kind": "snapshot",
		"participant": tech.ID(), "of": ada.ID(), "annotations": `{"strokes":[{"tool":"pen"}]}`}, "", "image/png", pngBytes(300))
	snap := mustMedia(t, st, body)
	if snap.Kind != "snapshot" || snap.ContentType != "image/png" || snap.Of != ada.ID() || string(snap.Annotations) != `{"strokes":[{"tool":"pen"}]}` ||
		!strings.HasPrefix(snap.Name, "Snapshot ") {
		t.Fatalf("snapshot = %+v", snap)
	}
	resp, _ = cn.tech.get(snap.URL, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") {
		t.Errorf("snapshot download = %d %v", resp.StatusCode, resp.Header)
	}

	// The list, oldest first, with URLs; the events are in the history.
	var list []mediaJSON
	if st := cn.admin.do("GET", "/api/v1/calls/"+call.ID+"/media", nil, &list); st != 200 || len(list) != 2 ||
		list[0].ID != m.ID || list[1].ID != snap.ID || list[1].URL != snap.URL {
		t.Fatalf("list = %d %+v", st, list)
	}
	evs, _ := cn.n.Store().SessionEvents(ctx, call.ID)
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	if got := strings.Join(kinds, " "); got != "joined joined file snapshot" {
		t.Errorf("events = %s", got)
	}

	// The session page shows both.
	st, page := cn.admin.raw("GET", "/sessions/"+call.ID, "", nil)
	if st != 200 || !bytes.Contains(page, []byte(m.URL)) || !bytes.Contains(page, []byte(snap.URL)) || !bytes.Contains(page, []byte("Pump manual")) {
		t.Errorf("session page = %d, has the media: %v", st, bytes.Contains(page, []byte(m.URL)))
	}
	if resp, _ := cn.admin.get("/api/v1/media/nosuchmedia", nil); resp.StatusCode != 404 {
		t.Errorf("unknown media = %d", resp.StatusCode)
	}
}

func TestMediaRefusals(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	tech := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	ada := cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	path := "/api/v1/calls/" + call.ID + "/media"
	mine := map[string]string{"participant": tech.ID()}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"participant": tech.ID()}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name   string
		b      *browser
		fields map[string]string
		ctype  string
		data   []byte
		status int
		says   string
	}{
		{"unknown kind", cn.tech, with("kind", "video"), "", []byte("x"), 400, "kind must be snapshot or file"},
		{"snapshot that is a GIF", cn.tech, with("kind", "snapshot"), "image/png", []byte("GIF89a......"), 400, "not a PNG or JPEG"},
		{"snapshot declared as GIF", cn.tech, with("kind", "snapshot"), "image/gif", pngBytes(10), 400, "image/png or image/jpeg"},
		{"empty file", cn.tech, mine, "text/plain", nil, 400, "file is empty"},
		{"annotations on a file", cn.tech, with("annotations", "{}"), "", []byte("x"), 400, "annotations are only for snapshots"},
		{"annotations not JSON", cn.tech, with("kind", "snapshot", "annotations", "{"), "", pngBytes(10), 400, "annotations is not valid JSON"},
		{"snapshot of a stranger", cn.tech, with("kind", "snapshot", "of", "nobody"), "", pngBytes(10), 400, "not a participant"},
		{"someone else's participant", cn.tech, map[string]string{"participant": ada.ID()}, "", []byte("x"), 403, "someone else"},
		{"a participant not in the call", cn.tech, map[string]string{"participant": "gone"}, "", []byte("x"), 409, "not in call"},
	}
	for _, tc := range cases {
		st, body := tc.b.upload(path, tc.fields, "f.bin", tc.ctype, tc.data)
		if e := apiError(t, body); st != tc.status || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.name, st, e.Error, tc.status, tc.says)
		}
	}
	// Not a multipart form, no file part.
	if st, body := cn.tech.raw("POST", path, "application/json", strings.NewReader("{}")); st != 400 || !strings.Contains(apiError(t, body).Error, "multipart/form-data") {
		t.Errorf("JSON upload = %d %s", st, body)
	}

	// A user who is not in the call.
	if st := cn.admin.do("POST", "/api/v1/users", web.UserInput{Email: "eve@plant.example", Name: "Eve",
		Password: "eve's password 123", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create eve = %d", st)
	}
	eve := cn.login("eve@plant.example", "eve's password 123")
	st, body := eve.upload(path, nil, "f.txt", "text/plain", []byte("hello"))
	if e := apiError(t, body); st != 409 || !strings.Contains(e.Error, "not in call "+call.ID) {
		t.Errorf("upload by someone not in the call = %d %q", st, e.Error)
	}

	// Without xa_icall_share-files: 403 naming it; snapshots still work.
	revoke := web.GrantInput{Subject: "role:regular", Permission: policy.CallShareFiles}
	if st := cn.admin.do("POST", "/api/v1/policy/revoke", revoke, nil); st != 200 {
		t.Fatalf("revoke = %d", st)
	}
	st, body = cn.tech.upload(path, mine, "f.txt", "text/plain", []byte("hello"))
	if e := apiError(t, body); st != 403 || e.Permission != policy.CallShareFiles {
		t.Errorf("upload without share-files = %d %+v", st, e)
	}
	st, body = cn.tech.upload(path, with("kind", "snapshot"), "s.png", "image/png", pngBytes(10))
	mustMedia(t, st, body)

	// Nothing refused was stored.
	list, err := cn.n.store.SessionMedia(context.Background(), call.ID)
	if err != nil || len(list) != 1 {
		t.Errorf("media stored = %d, %v; want only the snapshot", len(list), err)
	}
	assertBlobFiles(t, diskBlobs(t, cn.testNode).Dir(), list[0].BlobKey)
}

// rawRequest sends request headers that announce a body and reads the
// answer without sending it: the limit is decided from the headers.
func rawRequest(t *testing.T, tn *testNode, b *browser, method, path, contentType string, length int) (int, web.ErrorBody) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(tn.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nAccept: application/json\r\nX-CSRF-Token: %s\r\nCookie: %s=%s\r\n\r\n",
		method, path, strings.TrimPrefix(tn.url, "http://"), contentType, length, b.csrf, web.SessionCookie, b.cookie)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, apiError(t, data)
}

func TestMediaUploadLimit(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.Media.MaxUpload = 64 << 10
	tn := startNode(t, cfg)
	admin := tn.admin()
	var call storage.Session
	if st := admin.do("POST", "/api/v1/calls", web.CallInput{Name: "Limits"}, &call); st != 201 {
		t.Fatalf("create call = %d", st)
	}
	path := "/api/v1/calls/" + call.ID + "/media"
	st, e := rawRequest(t, tn, admin, "POST", path, "multipart/form-data; boundary=x", 64<<10+1)
	if st != 413 || !strings.Contains(e.Error, "64 KiB (media.max_upload)") {
		t.Errorf("upload over the limit = %d %q", st, e.Error)
	}
	// Other routes keep the small limit, and say which it is.
	st, e = rawRequest(t, tn, admin, "POST", "/api/v1/calls", "application/json", 4<<20+1)
	if st != 413 || !strings.Contains(e.Error, "4 MiB (http.body_limit)") {
		t.Errorf("JSON over the limit = %d %q", st, e.Error)
	}
	// Under the limit, the upload reaches the service (which wants the
	// caller in the call).
	st, body := admin.upload(path, nil, "f.bin", "", bytes.Repeat([]byte{1}, 60<<10))
	if st != 409 {
		t.Errorf("upload under the limit = %d %s", st, body)
	}
	bad := testConfig(t, shortTempDir(t))
	bad.Media.MaxUpload = 10
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "media.max_upload") {
		t.Errorf("Validate with max_upload 10 = %v, want an error naming media.max_upload", err)
	}
}

func TestMediaGuestOfAnotherCall(t *testing.T) {
	in := startInviteNode(t, nil)
	callA := in.createCall(t, in.tech)
	callB := in.createCall(t, in.tech)
	tech := in.join(t, in.tech, callA.ID, "Tom", client.Config{})
	st, body := in.tech.upload("/api/v1/calls/"+callA.ID+"/media", map[string]string{"participant": tech.ID()}, "a.txt", "text/plain", []byte("for call A"))
	m := mustMedia(t, st, body)

	guestOf := func(callID string) *browser {
		inv := in.invite(t, in.tech, callID, web.InviteInput{Channel: "link"})
		g, st, _ := in.redeem(t, tokenOf(t, inv.Link), storage.UserGuestDesktop)
		if st != 201 {
			t.Fatalf("redeem = %d", st)
		}
		return g
	}
	other := guestOf(callB.ID)
	for _, p := range []string{m.URL, "/api/v1/calls/" + callA.ID + "/media", "/api/v1/media/nosuchmedia"} {
		st, body := other.raw("GET", p, "", nil)
		if e := apiError(t, body); st != 403 || e.Permission != policy.OutsideTheCall {
			t.Errorf("guest of another call GET %s = %d %+v", p, st, e)
		}
	}
	// A guest of call A reads it.
	resp, data := guestOf(callA.ID).get(m.URL, nil)
	if resp.StatusCode != 200 || string(data) != "for call A" {
		t.Errorf("guest of the call = %d %q", resp.StatusCode, data)
	}
}

// TestMediaDeletionTellsTheCall: a file deleted while its call runs is
// taken off the pages in the call: each participant's client is told
// which file went and who deleted it, after the deletion is recorded.
func TestMediaDeletionTellsTheCall(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	tech := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	ada := cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	st, body := cn.tech.upload("/api/v1/calls/"+call.ID+"/media", map[string]string{"participant": tech.ID()},
		"Pump manual.pdf", "application/pdf", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("page\n"), 100)...))
	m := mustMedia(t, st, body)
	for _, c := range []*client.Client{tech, ada} {
		if _, err := c.Next(ctx, func(msg signal.Message) bool { return msg.Type == signal.TypeMedia && msg.Media.ID == m.ID }); err != nil {
			t.Fatalf("no media message: %v", err)
		}
	}
	var d storage.MediaDeletion
	if st := cn.admin.do("DELETE", "/api/v1/media/"+m.ID, nil, &d); st != 200 {
		t.Fatalf("delete = %d", st)
	}
	for _, c := range []*client.Client{tech, ada} {
		msg, err := c.Next(ctx, func(msg signal.Message) bool { return msg.Type == signal.TypeMediaDeleted })
		if err != nil {
			t.Fatalf("no media-deleted message: %v", err)
		}
		if msg.Media.ID != m.ID || msg.Media.Kind != storage.MediaFile || msg.Media.Name != "Pump manual.pdf" || msg.Name != d.ByName || d.ByName == "" {
			t.Errorf("media-deleted = %+v %q, want %s deleted by %q", msg.Media, msg.Name, m.ID, d.ByName)
		}
	}
	if resp, _ := cn.tech.get(m.URL, nil); resp.StatusCode != 410 {
		t.Errorf("the deleted file = %d, want 410", resp.StatusCode)
	}
}
