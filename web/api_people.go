package web

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
)

// peopleRoutes are the labels and CSV imports of Deps.People. They come
// ahead of the other routes: "/users/import" would otherwise be taken for
// the user "import".
func (s *Server) peopleRoutes() []route {
	p := APIPrefix
	return []route{
		{method: "PUT", path: p + "/users/:id/labels", perm: policy.AdminMembers, summary: "Replace the labels applied to a user", in: userLabelsIn{}, handler: s.apiSetUserLabels},
		{method: "POST", path: p + "/users/import", perm: policy.AdminMembers, summary: "Invite members in bulk from a CSV body (text/csv; columns email,roles,teams,labels): all lines or none", out: ImportResult{}, handler: s.apiImportMembers},
		{method: "POST", path: p + "/contacts/import", perm: policy.PhonebookEditor, summary: "Add contacts in bulk from a CSV body (text/csv; columns name,email,phone,company,notes): all lines or none", out: ImportResult{}, handler: s.apiImportContacts},
		{method: "POST", path: "/users/import", perm: policy.AdminMembers, page: true, summary: "Invite members in bulk from an uploaded CSV file", handler: s.uiImportMembers},
		{method: "POST", path: "/users/:id/labels", perm: policy.AdminMembers, page: true, summary: "Apply labels to a user", handler: s.uiUserLabels},
		{method: "POST", path: "/contacts/import", perm: policy.PhonebookEditor, page: true, summary: "Add contacts in bulk from an uploaded CSV file", handler: s.uiImportContacts},
	}
}

// exportRoutes come ahead of "/users/:id".
func (s *Server) exportRoutes() []route {
	p := APIPrefix
	return []route{
		{method: "GET", path: p + "/users/export.csv", perm: policy.AdminMembers, summary: "The members list as CSV, filtered as GET /users is", handler: s.apiExportUsers},
		{method: "GET", path: p + "/contacts/export.csv", perm: policy.ContactList, summary: "The phonebook as CSV", handler: s.apiExportContacts},
	}
}

type userLabelsIn struct {
	LabelIDs []string `json:"label_ids"`
}

// apiUsers lists the members matching the query string (q, role, team,
// label, status): users, and the people invited with status=invited. A
// page is given by page and per_page (at most 500); without them every
// member matching is listed. X-Total-Count is how many match.
func (s *Server) apiUsers(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	q, err := memberQueryOf(func(k string) string { return c.Query(k) })
	if err != nil {
		return err
	}
	names, err := s.memberNames(ctx, a.OrgID)
	if err != nil {
		return err
	}
	rows, err := s.memberRows(ctx, a, names, q.Status == MemberInvited)
	if err != nil {
		return err
	}
	rows = q.filter(rows)
	c.Set("X-Total-Count", strconv.Itoa(len(rows)))
	if c.Query("page") != "" || c.Query("per_page") != "" {
		size := membersPerPage
		if v := c.Query("per_page"); v != "" {
			if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 500 {
				return invalid("per_page", "must be a whole number from 1 to 500")
			}
		}
		rows, _ = page(rows, q.Page, size)
	}
	return c.JSON(rows)
}

// memberCSVHeader is the first line of the members export: the columns an
// import reads, then what only an export tells.
var memberCSVHeader = append(append([]string{}, MemberCSVColumns...), "name", "status", "created_at", "last_login", "last_call")

func (s *Server) apiExportUsers(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	q, err := memberQueryOf(func(k string) string { return c.Query(k) })
	if err != nil {
		return err
	}
	names, err := s.memberNames(ctx, a.OrgID)
	if err != nil {
		return err
	}
	rows, err := s.memberRows(ctx, a, names, true)
	if err != nil {
		return err
	}
	rows = q.filter(rows)
	return sendCSV(c, "members", memberCSVHeader, len(rows), func(i int) []string {
		r := rows[i]
		teams := make([]string, len(r.Teams))
		for j, t := range r.Teams {
			teams[j] = t.Name
		}
		labels := make([]string, len(r.Labels))
		for j, l := range r.Labels {
			labels[j] = l.Group + "/" + l.Name
		}
		return []string{r.Email, strings.Join(r.Roles, ";"), strings.Join(teams, ";"), strings.Join(labels, ";"),
			r.Name, r.Status, r.CreatedAt.UTC().Format(time.RFC3339), optRFC3339(r.LastLogin), optRFC3339(r.LastCall)}
	})
}

// sendCSV answers with n rows under header as a CSV attachment, every
// cell made safe from spreadsheet formulas (csvSafe).
func sendCSV(c *fiber.Ctx, name string, header []string, n int, row func(int) []string) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.csv"`, name, time.Now().UTC().Format("20060102")))
	c.Set(fiber.HeaderCacheControl, "no-store")
	w := bufio.NewWriter(c.Response().BodyWriter())
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	for i := range n {
		cells := row(i)
		for j, v := range cells {
			cells[j] = csvSafe(v)
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return w.Flush()
}

// csvBody is the CSV body of an API import: text/csv only.
func csvBody(c *fiber.Ctx) (io.Reader, error) {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != "text/csv" {
		return nil, &Error{Status: fiber.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "send the CSV file as the body with Content-Type: text/csv"}
	}
	if len(c.Body()) > MaxImportBytes {
		return nil, invalid("csv", fmt.Sprintf("is larger than %d bytes: split it", MaxImportBytes))
	}
	return strings.NewReader(string(c.Body())), nil
}

func (s *Server) apiImportMembers(c *fiber.Ctx) error {
	if s.deps.Members == nil {
		return &Error{Status: fiber.StatusNotFound, Code: "not_found", Message: "this node does not invite members by e-mail"}
	}
	r, err := csvBody(c)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	out, err := s.deps.People.ImportMembers(c.UserContext(), a, r)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiImportContacts(c *fiber.Ctx) error {
	r, err := csvBody(c)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	out, err := s.deps.People.ImportContacts(c.UserContext(), a, r)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiSetUserLabels(c *fiber.Ctx) error {
	var in userLabelsIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	u, err := s.orgUser(c, c.Params("id"))
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.People.SetUserLabels(c.UserContext(), a, u.ID, in.LabelIDs); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// uploadedCSV is the CSV file of an import form's "file" field.
func uploadedCSV(c *fiber.Ctx) (io.Reader, error) {
	fh, err := c.FormFile("file")
	if err != nil {
		return nil, invalid("csv", "is missing: choose a file")
	}
	if fh.Size > MaxImportBytes {
		return nil, invalid("csv", fmt.Sprintf("is larger than %d bytes: split it", MaxImportBytes))
	}
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxImportBytes))
	if err != nil {
		return nil, err
	}
	return strings.NewReader(string(b)), nil
}

func (s *Server) uiImportMembers(c *fiber.Ctx) error {
	f := &formState{Name: "import"}
	if s.deps.Members == nil {
		return failed(c, f, invalid("csv", "cannot be imported: this node does not invite members by e-mail"), s.showUsers)
	}
	r, err := uploadedCSV(c)
	if err != nil {
		return failed(c, f, err, s.showUsers)
	}
	a, _ := actorOf(c)
	out, err := s.deps.People.ImportMembers(c.UserContext(), a, r)
	if err != nil {
		return failed(c, f, err, s.showUsers)
	}
	unsent := 0
	for _, inv := range out.Invitations {
		if inv.MailError != "" {
			unsent++
		}
	}
	msg := fmt.Sprintf("Invited %d people from the file.", out.Imported)
	if unsent > 0 {
		msg += fmt.Sprintf(" %d e-mails could not be sent yet: they are retried automatically; the pending invitations show how each stands.", unsent)
	}
	return done(c, "/users?status=invited", msg)
}

func (s *Server) uiImportContacts(c *fiber.Ctx) error {
	f := &formState{Name: "import"}
	r, err := uploadedCSV(c)
	if err != nil {
		return failed(c, f, err, s.showContacts)
	}
	a, _ := actorOf(c)
	out, err := s.deps.People.ImportContacts(c.UserContext(), a, r)
	if err != nil {
		return failed(c, f, err, s.showContacts)
	}
	return done(c, "/contacts", fmt.Sprintf("Added %d contacts from the file.", out.Imported))
}

func (s *Server) uiUserLabels(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgUser(c, id); err != nil {
		return err
	}
	f := readForm(c, "labels", "labels")
	a, _ := actorOf(c)
	if err := s.deps.People.SetUserLabels(c.UserContext(), a, id, f.All("labels")); err != nil {
		return failed(c, f, err, s.showUser)
	}
	return done(c, "/users/"+id, "Saved the labels.")
}
