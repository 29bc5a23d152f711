package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Media is the session media service: snapshots and files shared in a
// call, the call's recordings, and the session's history as the session
// page shows it. The node implements it over its blob store and site
// store, and decides who may read what: the session's participants (past
// or present, guests of that call included) and users who may see every
// session of the organisation.
type Media interface {
	// AddMedia stores an upload as media of the call, writes its session
	// event and then tells everyone in the call. The caller must be in the
	// call as in.Participant.
	AddMedia(ctx context.Context, a Actor, callID string, in MediaUpload) (storage.Media, error)
	// SessionMedia lists a session's snapshots and files.
	SessionMedia(ctx context.Context, a Actor, sessionID string) ([]storage.Media, error)
	// OpenMedia returns a media row and its bytes, which the caller closes.
	OpenMedia(ctx context.Context, a Actor, id string) (storage.Media, Blob, error)
	// SessionRecordings lists a session's recordings.
	SessionRecordings(ctx context.Context, a Actor, sessionID string) ([]storage.Recording, error)
	// OpenRecording returns a recording and its bytes, which the caller
	// closes.
	OpenRecording(ctx context.Context, a Actor, id string) (storage.Recording, Blob, error)
	// SessionDetail is everything the session page shows.
	SessionDetail(ctx context.Context, a Actor, sessionID string) (SessionDetail, error)
	// DeleteMedia and DeleteRecording delete a snapshot or file, or a
	// recording, at the site that holds it (delete-media): the row stays
	// as a tombstone, the bytes go, headquarters follows from the history.
	DeleteMedia(ctx context.Context, a Actor, id string) (storage.MediaDeletion, error)
	DeleteRecording(ctx context.Context, a Actor, id string) (storage.MediaDeletion, error)
}

// MediaUpload is one upload of POST /calls/:id/media.
type MediaUpload struct {
	Kind        string          // snapshot | file; "" is file
	Participant string          // the uploader's participant id in the call
	Of          string          // snapshot: the participant whose video it shows
	Name        string          // the file name the client gave
	ContentType string          // the part's Content-Type, as the client gave it
	Size        int64           // -1: not known before the body is read
	Annotations json.RawMessage // snapshot: the drawing, JSON
	Body        io.Reader
}

// Blob is stored bytes opened for reading.
type Blob interface {
	io.ReaderAt
	io.Closer
}

// SessionDetail is a session with its people, history and media.
type SessionDetail struct {
	Session      storage.Session
	Participants []storage.SessionParticipant
	Events       []storage.SessionEvent
	Media        []storage.Media
	Recordings   []storage.Recording
	// Deleted are the session's deleted media and recordings.
	Deleted []storage.MediaDeletion
	// CanDelete: the reader may delete media (delete-media); only those
	// kept at this node (Origin "") can be deleted here.
	CanDelete bool
}

// MaxAnnotations bounds the annotations field of a snapshot upload.
const MaxAnnotations = 256 << 10

// MediaURL is where a snapshot or file is downloaded.
func MediaURL(id string) string { return APIPrefix + "/media/" + id }

// RecordingURL is where a recording is played and downloaded.
func RecordingURL(id string) string { return APIPrefix + "/recordings/" + id }

// mediaOut is a snapshot or file with its URL.
type mediaOut struct {
	storage.Media
	URL string `json:"url"`
}

// recordingOut is a recording with its URL.
type recordingOut struct {
	storage.Recording
	URL string `json:"url"`
}

func (s *Server) mediaRoutes() []route {
	p := APIPrefix
	routes := []route{
		{method: "POST", path: p + "/calls/:id/media", perm: policy.CallJoin,
			summary: "Share a snapshot or file in a call: multipart/form-data with kind (snapshot|file), participant (the caller's participant id in the call), of and annotations (snapshot), then file, the last part, streamed to disk as it arrives; needs xa_icall_share-files for a file, xa_icall_snapshot-annotate for a snapshot; body up to media.max_upload; 503 while media.max_concurrent_uploads others arrive",
			out:     mediaOut{}, handler: s.apiAddMedia},
		{method: "GET", path: p + "/calls/:id/media", open: true,
			summary: "A session's snapshots and files (its participants, or with see-all-call-logs)", out: []mediaOut{}, handler: s.apiSessionMedia},
		{method: "GET", path: p + "/media/:id", open: true,
			summary: "The bytes of a snapshot (inline) or file (attachment; ?inline=1 shows an image or a PDF in the browser), ETag = SHA-256 (participants of the session, or see-all-call-logs and download-media); 410 once deleted", handler: s.apiMediaBytes},
		{method: "GET", path: p + "/calls/:id/recordings", open: true,
			summary: "A session's recordings (its participants, or with see-all-call-logs)", out: []recordingOut{}, handler: s.apiSessionRecordings},
		{method: "GET", path: p + "/recordings/:id", open: true,
			summary: "A recording as video/webm, with Range support (participants of the session, or see-all-call-logs and download-media); 410 once deleted", handler: s.apiRecordingBytes},
		{method: "DELETE", path: p + "/media/:id", perm: policy.DeleteMedia,
			summary: "Delete a snapshot or file (xa_ocall_calllog_delete-media), at the site that holds it (409 elsewhere): the row stays as a tombstone, the bytes go, the deletion is audited and reaches headquarters with the site's history", out: storage.MediaDeletion{}, handler: s.apiDeleteMedia},
		{method: "DELETE", path: p + "/recordings/:id", perm: policy.DeleteMedia,
			summary: "Delete a recording (xa_ocall_calllog_delete-media), at the site that holds it (409 elsewhere), as DELETE /media/:id does", out: storage.MediaDeletion{}, handler: s.apiDeleteRecording},
	}
	return append(routes, s.sessionPageRoutes()...)
}

func (s *Server) apiAddMedia(c *fiber.Ctx) error {
	ct, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ct != fiber.MIMEMultipartForm || params["boundary"] == "" {
		return &storage.ValidationError{Field: "Content-Type", Problem: fmt.Sprintf("must be multipart/form-data with a boundary, not %q", c.Get(fiber.HeaderContentType))}
	}
	if ce := c.Get(fiber.HeaderContentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return &storage.ValidationError{Field: "Content-Encoding", Problem: fmt.Sprintf("must be absent: uploads are sent as they are, not %q", ce)}
	}
	release, err := s.uploads.acquire()
	if err != nil {
		return err
	}
	defer release()
	var body io.Reader
	if b, ok := c.Locals(localUploadBody).(*uploadBody); ok {
		body = b
		// The caller is known and allowed: the upload may take its time.
		if conn := c.Context().Conn(); conn != nil {
			_ = conn.SetReadDeadline(time.Now().Add(uploadReadTimeout))
		}
	} else {
		body = bytes.NewReader(c.Body())
	}
	in, err := readUpload(multipart.NewReader(body, params["boundary"]))
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	m, err := s.deps.Media.AddMedia(c.UserContext(), a, param(c, "id"), in)
	if err != nil {
		return err
	}
	out := mediaOut{Media: m, URL: MediaURL(m.ID)}
	c.Location(out.URL)
	return c.Status(fiber.StatusCreated).JSON(out)
}

// maxUploadField bounds each field of an upload form but the file.
const maxUploadField = MaxAnnotations

// readUpload reads the form's fields up to its file part, whose bytes are
// left to the service to read as they arrive. The fields must come first;
// anything after the file makes reading it fail, so that nothing is kept.
func readUpload(mr *multipart.Reader) (MediaUpload, error) {
	in := MediaUpload{Size: -1}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return in, &storage.ValidationError{Field: "file", Problem: "is required: send the bytes as the form's file part"}
		}
		if err != nil {
			return in, uploadReadError(err)
		}
		name := p.FormName()
		if name == "file" {
			in.Name, in.ContentType = p.FileName(), p.Header.Get(fiber.HeaderContentType)
			in.Body = &filePart{p: p, mr: mr}
			return in, nil
		}
		v, err := io.ReadAll(io.LimitReader(p, maxUploadField+1))
		if err != nil {
			return in, uploadReadError(err)
		}
		if len(v) > maxUploadField {
			return in, &Error{Status: fiber.StatusRequestEntityTooLarge, Code: "too_large",
				Message: fmt.Sprintf("%s of more than %d bytes are over the limit (256 KiB)", name, maxUploadField)}
		}
		switch value := strings.TrimSpace(string(v)); name {
		case "kind":
			in.Kind = value
		case "participant":
			in.Participant = value
		case "of":
			in.Of = value
		case "annotations":
			if value != "" {
				in.Annotations = json.RawMessage(value)
			}
		}
	}
}

// uploadReadError explains a body that stopped being a form, or passes on
// the limit it broke while being read.
func uploadReadError(err error) error {
	var he *Error
	if errors.As(err, &he) {
		return he
	}
	return &storage.ValidationError{Field: "body", Problem: "is not a valid multipart/form-data body: " + err.Error()}
}

// filePart is the file part of an upload form; at its end it checks that
// the form ends too. Its end, or its error, is for good.
type filePart struct {
	p   *multipart.Part
	mr  *multipart.Reader
	err error
}

func (f *filePart) Read(b []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.p.Read(b)
	switch {
	case err == nil:
		return n, nil
	case !errors.Is(err, io.EOF):
		f.err = uploadReadError(err)
		return n, f.err
	}
	next, err := f.mr.NextPart()
	switch {
	case errors.Is(err, io.EOF):
		f.err = io.EOF
	case err != nil:
		f.err = uploadReadError(err)
	case next.FormName() == "file":
		f.err = &storage.ValidationError{Field: "file", Problem: "must be one file, not several"}
	default:
		f.err = &storage.ValidationError{Field: "file", Problem: fmt.Sprintf("must be the form's last part: %q comes after it (send the other fields first)", next.FormName())}
	}
	return n, f.err
}

func (s *Server) apiSessionMedia(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	list, err := s.deps.Media.SessionMedia(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	out := make([]mediaOut, len(list))
	for i, m := range list {
		out[i] = mediaOut{Media: m, URL: MediaURL(m.ID)}
	}
	return c.JSON(out)
}

func (s *Server) apiSessionRecordings(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	list, err := s.deps.Media.SessionRecordings(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	out := make([]recordingOut, len(list))
	for i, r := range list {
		out[i] = recordingOut{Recording: r, URL: RecordingURL(r.ID)}
	}
	return c.JSON(out)
}

// apiMediaBytes serves a snapshot inline (an image) or a file as an
// attachment; ?inline=1 asks for a file inline, which sendBlob grants
// only to an image or a PDF, for its preview; ?download=1 makes a
// snapshot an attachment too.
func (s *Server) apiMediaBytes(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	m, b, err := s.deps.Media.OpenMedia(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	disposition := "attachment"
	if (m.Kind == storage.MediaSnapshot || c.Query("inline") != "") && c.Query("download") == "" {
		disposition = "inline"
	}
	return sendBlob(c, b, blobMeta{size: m.Size, sha256: m.SHA256,
		name: m.Name, disposition: disposition})
}

// apiRecordingBytes serves a recording inline (a <video> plays and seeks
// it with Range requests); ?download=1 makes it an attachment.
func (s *Server) apiRecordingBytes(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	r, b, err := s.deps.Media.OpenRecording(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	disposition := "inline"
	if c.Query("download") != "" {
		disposition = "attachment"
	}
	return sendBlob(c, b, blobMeta{size: r.Size, sha256: r.SHA256,
		name: r.Name, disposition: disposition})
}

func (s *Server) apiDeleteMedia(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	d, err := s.deps.Media.DeleteMedia(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) apiDeleteRecording(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	d, err := s.deps.Media.DeleteRecording(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// access is a route's permission check: need(perm), or nothing more than
// the login for an open route, whose service decides per record.
func (s *Server) access(r route) fiber.Handler {
	if r.open {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return s.need(r.perm)
}
