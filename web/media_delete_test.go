package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// mediaFake is session s1 with a snapshot, a file and a recording kept
// here, a file forwarded from a plant, and a deleted snapshot.
type mediaFake struct {
	Media
	deleted []string
}

var mediaAt = time.Date(2026, 3, 2, 9, 5, 0, 0, time.UTC)

func (f *mediaFake) SessionDetail(_ context.Context, a Actor, id string) (SessionDetail, error) {
	if id != "s1" {
		return SessionDetail{}, storage.ErrNotFound
	}
	return SessionDetail{
		Session: storage.Session{ID: "s1", OrgID: "o1", SiteID: "site-1", Name: "Pump call", StartedAt: mediaAt},
		Media: []storage.Media{
			{ID: "m-snap", SessionID: "s1", Kind: storage.MediaSnapshot, Name: "snap.png", CreatedAt: mediaAt},
			{ID: "m-file", SessionID: "s1", Kind: storage.MediaFile, Name: "manual.pdf", CreatedAt: mediaAt},
			{ID: "m-far", SessionID: "s1", Kind: storage.MediaFile, Name: "far.pdf", CreatedAt: mediaAt, Origin: "node-plant"},
		},
		Recordings: []storage.Recording{{ID: "r1", SessionID: "s1", Name: "call.webm", StartedAt: mediaAt}},
		Deleted: []storage.MediaDeletion{{What: storage.DeletedMedia, ID: "m-old", SessionID: "s1", Kind: storage.MediaSnapshot,
			Name: "old.png", At: mediaAt, By: "u9", ByName: "Cleo"}},
		CanDelete: a.UserID == "u1", // the service asks the policy
	}, nil
}

func (f *mediaFake) DeleteMedia(_ context.Context, _ Actor, id string) (storage.MediaDeletion, error) {
	f.deleted = append(f.deleted, id)
	return storage.MediaDeletion{What: storage.DeletedMedia, ID: id, SessionID: "s1", Kind: storage.MediaFile, Name: "manual.pdf"}, nil
}

func (f *mediaFake) DeleteRecording(_ context.Context, _ Actor, id string) (storage.MediaDeletion, error) {
	f.deleted = append(f.deleted, id)
	return storage.MediaDeletion{What: storage.DeletedRecording, ID: id, SessionID: "s1", Kind: "recording", Name: "call.webm"}, nil
}

func (f *mediaFake) OpenMedia(_ context.Context, _ Actor, id string) (storage.Media, Blob, error) {
	return storage.Media{}, nil, &Error{Status: http.StatusGone, Code: "gone", Message: "media " + id + " was deleted by u9"}
}

// The session page offers downloads to those who may fetch the bytes and
// Delete buttons (with their confirmation and CSRF token) to those who
// may delete, only for media kept at this node; it lists what was
// deleted, by whom. The forms and the API delete.
func TestSessionPageDeletesMedia(t *testing.T) {
	mf := &mediaFake{}
	s, d := newTestServer(t, func(deps *Deps) { deps.Media = mf })
	d.addUser("u1", adminEmail, testPass, policy.CallLogs, policy.SeeAllCallLogs, policy.DownloadMedia, policy.DeleteMedia)
	d.addUser("u2", nobodyEmail, testPass, policy.CallLogs, policy.SeeAllCallLogs)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)

	got := b.page("/sessions/s1")
	if got.status != http.StatusOK {
		t.Fatalf("session page = %d %s", got.status, got.body)
	}
	for _, w := range []string{
		`action="/sessions/s1/media/m-snap/delete"`, `action="/sessions/s1/media/m-file/delete"`,
		`action="/sessions/s1/recordings/r1/delete"`, `data-confirm="Delete the file manual.pdf?`,
		`name="_csrf" value="` + b.csrf + `"`,
		`href="/api/v1/media/m-snap?download=1" download`, `href="/api/v1/media/m-file" download`,
		`href="/api/v1/recordings/r1?download=1" download`,
		"old.png", "deleted by Cleo",
	} {
		if !strings.Contains(got.body, w) {
			t.Errorf("session page lacks %s", w)
		}
	}
	if strings.Contains(got.body, "/media/m-far/delete") {
		t.Error("the page offers to delete media kept at another site")
	}

	if got := b.form("/sessions/s1/media/m-file/delete", url.Values{}); got.status != http.StatusSeeOther || got.header.Get("Location") != "/sessions/s1" {
		t.Errorf("delete form = %d %s", got.status, got.header.Get("Location"))
	}
	if got := b.form("/sessions/s1/recordings/r1/delete", url.Values{}); got.status != http.StatusSeeOther {
		t.Errorf("delete recording form = %d", got.status)
	}
	if got := b.api("DELETE", "/api/v1/media/m-snap", ""); got.status != http.StatusOK || !strings.Contains(got.body, `"id":"m-snap"`) {
		t.Errorf("DELETE /media = %d %s", got.status, got.body)
	}
	if strings.Join(mf.deleted, " ") != "m-file r1 m-snap" {
		t.Errorf("deleted = %v", mf.deleted)
	}
	if got := b.api("GET", "/api/v1/media/m-snap", ""); got.status != http.StatusGone || !strings.Contains(got.body, "deleted by u9") {
		t.Errorf("GET of deleted media = %d %s, want 410", got.status, got.body)
	}

	// Without delete-media and download-media: neither offered, and the
	// routes refuse naming the permission.
	other := &browser{t: t, s: s}
	other.login(nobodyEmail, testPass)
	got = other.page("/sessions/s1")
	if strings.Contains(got.body, "/delete") || strings.Contains(got.body, "download=1") {
		t.Error("the page offers deletion or downloads without the permissions")
	}
	for _, p := range []string{"/api/v1/media/m-snap", "/api/v1/recordings/r1"} {
		if got := other.api("DELETE", p, ""); got.status != http.StatusForbidden || !strings.Contains(got.body, policy.DeleteMedia) {
			t.Errorf("DELETE %s without the permission = %d %s", p, got.status, got.body)
		}
	}
	if got := other.form("/sessions/s1/media/m-snap/delete", url.Values{}); got.status != http.StatusForbidden {
		t.Errorf("delete form without the permission = %d", got.status)
	}
	if len(mf.deleted) != 3 {
		t.Errorf("refused deletions reached the service: %v", mf.deleted)
	}
}
