package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// The phonebook's contacts are searched and paged by the store
// (OrgReader.SearchContacts): a page of them for the contacts page and the
// API, every one of them, page after page, for the exports.

// TotalCountHeader carries, on a list of the API, how many items match.
const TotalCountHeader = "X-Total-Count"

// contactsQuery reads the query string of GET /api/v1/contacts: q (a text
// found in the name, company, e-mail or phone), limit (the page size, 1 to
// storage.MaxContactPage), and either cursor (the Siteline-Next-Cursor of
// the previous page) or page (a page number, from 1). paged is false when
// none of limit, cursor and page is given: every contact is then listed.
func contactsQuery(c *fiber.Ctx, orgID string) (q storage.ContactQuery, paged bool, err error) {
	q = storage.ContactQuery{OrgID: orgID, Text: c.Query("q"), Cursor: c.Query("cursor")}
	if utf8.RuneCountInString(q.Text) > storage.MaxContactSearchText {
		return q, false, invalid("q", fmt.Sprintf("must be at most %d characters", storage.MaxContactSearchText))
	}
	paged = q.Cursor != ""
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > storage.MaxContactPage {
			return q, false, invalid("limit", fmt.Sprintf("must be a whole number from 1 to %d", storage.MaxContactPage))
		}
		q.Limit, paged = n, true
	}
	if v := c.Query("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, false, invalid("page", "must be a whole number from 1")
		}
		if q.Cursor != "" {
			return q, false, invalid("page", "cannot be combined with cursor: a cursor says where its page starts")
		}
		limit := q.Limit
		if limit == 0 {
			limit = storage.DefaultContactPage
		}
		q.Offset, paged = (n-1)*limit, true
	}
	return q, paged, nil
}

// apiContacts lists the phonebook as a JSON array: one page of it when
// the query asks for one (limit, cursor or page), with the cursor of the
// next page in Siteline-Next-Cursor; every contact otherwise, as before
// paging existed, streamed page after page. X-Total-Count is how many
// contacts match.
func (s *Server) apiContacts(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	q, paged, err := contactsQuery(c, a.OrgID)
	if err != nil {
		return err
	}
	if !paged {
		return s.streamContacts(c, q, "json")
	}
	page, err := s.deps.Org.SearchContacts(c.UserContext(), q)
	if err != nil {
		return err
	}
	c.Set(TotalCountHeader, strconv.Itoa(page.Total))
	if page.Next != "" {
		c.Set(NextCursorHeader, page.Next)
	}
	return c.JSON(page.Contacts)
}

// apiExportContacts answers the whole phonebook (or the contacts matching
// q) as CSV, streamed.
func (s *Server) apiExportContacts(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	q, _, err := contactsQuery(c, a.OrgID)
	if err != nil {
		return err
	}
	return s.streamContacts(c, storage.ContactQuery{OrgID: q.OrgID, Text: q.Text}, "csv")
}

// streamContacts writes every contact q matches, from its first page on,
// as a JSON array or CSV (ContactCSVColumns): page after page from the
// store, so that a phonebook of any size starts at once and holds one page
// in memory. The first page is read before answering, so that a bad query
// is an error rather than a broken download.
func (s *Server) streamContacts(c *fiber.Ctx, q storage.ContactQuery, format string) error {
	ctx := context.WithoutCancel(c.UserContext())
	q.Limit, q.Cursor, q.Offset = storage.MaxContactPage, "", 0
	page, err := s.deps.Org.SearchContacts(ctx, q)
	if err != nil {
		return err
	}
	c.Set(TotalCountHeader, strconv.Itoa(page.Total))
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="contacts-%s.csv"`, s.now().UTC().Format("20060102")))
		c.Set(fiber.HeaderCacheControl, "no-store")
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	}
	org, log := s.deps.Org, s.log
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		out := newContactWriter(w, format)
		for {
			for _, ct := range page.Contacts {
				if err := out.row(ct); err != nil {
					log.Warn("contacts: the client went away", "err", err)
					return
				}
			}
			if err := w.Flush(); err != nil || page.Next == "" {
				break
			}
			q.Cursor = page.Next
			if page, err = org.SearchContacts(ctx, q); err != nil {
				log.Error("contacts: list cut short", "err", err)
				return
			}
		}
		if err := out.end(); err == nil {
			_ = w.Flush()
		}
	})
	return nil
}

// contactWriter writes contacts as CSV or as one JSON array.
type contactWriter struct {
	w     *bufio.Writer
	csv   *csv.Writer
	enc   *json.Encoder
	first bool
}

func newContactWriter(w *bufio.Writer, format string) *contactWriter {
	cw := &contactWriter{w: w, first: true}
	if format == "csv" {
		cw.csv = csv.NewWriter(w)
	} else {
		cw.enc = json.NewEncoder(w)
	}
	return cw
}

func (cw *contactWriter) row(ct storage.Contact) error {
	if cw.csv != nil {
		if cw.first {
			cw.first = false
			if err := cw.csv.Write(ContactCSVColumns); err != nil {
				return err
			}
		}
		cw.csv.Write([]string{csvSafe(ct.Name), csvSafe(ct.Email), csvSafe(ct.Phone), csvSafe(ct.Company), csvSafe(ct.Notes)})
		cw.csv.Flush()
		return cw.csv.Error()
	}
	sep := ","
	if cw.first {
		cw.first, sep = false, "["
	}
	if _, err := cw.w.WriteString(sep); err != nil {
		return err
	}
	return cw.enc.Encode(ct)
}

// end closes the list: the header of an empty CSV, the JSON array.
func (cw *contactWriter) end() error {
	if cw.csv != nil {
		if cw.first {
			if err := cw.csv.Write(ContactCSVColumns); err != nil {
				return err
			}
		}
		cw.csv.Flush()
		return cw.csv.Error()
	}
	if cw.first {
		_, err := cw.w.WriteString("[]")
		return err
	}
	_, err := cw.w.WriteString("]")
	return err
}
