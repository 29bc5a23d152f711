package web

import (
	"context"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Contacts changes the phonebook (the API's handlers are in api.go).
type Contacts interface {
	// PutContact creates the contact when c.ID is empty, else updates it.
	PutContact(ctx context.Context, a Actor, c storage.Contact) (storage.Contact, error)
	DeleteContact(ctx context.Context, a Actor, id string) error
}

type contactsData struct {
	Contacts []contactRow
	// Total counts the phonebook, Matches the contacts matching Query.
	Total, Matches int
	Query          string
	CanEdit        bool
	CanCall        bool // start a call (xa_ocall_create_conference)
	Users          []storage.User
	// Page and Pages page the external contacts (50 a page).
	Page, Pages int
	// Internal are the organisation's users with their presence, one
	// page of them; nil when the node has no phone (Deps.Phone).
	Internal *InternalContacts
	// CanImport is set when contacts can be imported from CSV
	// (Deps.People); ImportColumns is the header of such a file.
	CanImport     bool
	ImportColumns string
}

type contactRow struct {
	storage.Contact
	UserName string
}

func (s *Server) uiContacts(c *fiber.Ctx) error {
	return s.showContacts(c, fiber.StatusOK, &formState{})
}

func (s *Server) showContacts(c *fiber.Ctx, status int, f *formState) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	d := contactsData{Query: strings.TrimSpace(c.Query("q")), CanEdit: s.can(a, policy.PhonebookEditor), CanCall: s.can(a, policy.CreateConference)}
	d.CanImport, d.ImportColumns = s.deps.People != nil, strings.Join(ContactCSVColumns, ",")
	page, err := s.contactsPage(ctx, a.OrgID, d.Query, pageParam(c, "page"))
	if err != nil {
		return err
	}
	d.Matches, d.Page, d.Pages = page.Total, page.number, page.pages
	for _, ct := range page.Contacts {
		d.Contacts = append(d.Contacts, contactRow{Contact: ct, UserName: names[ct.UserID]})
	}
	if d.Total = d.Matches; d.Query != "" {
		all, err := s.deps.Org.SearchContacts(ctx, storage.ContactQuery{OrgID: a.OrgID, Limit: 1})
		if err != nil {
			return err
		}
		d.Total = all.Total
	}
	if s.deps.Phone != nil {
		in, err := s.internalContacts(ctx, a, d.Query, pageParam(c, "upage"))
		if err != nil {
			return err
		}
		d.Internal = &in
	}
	if d.CanEdit {
		for _, u := range users {
			if u.Active && u.Kind == storage.UserRegular {
				d.Users = append(d.Users, u)
			}
		}
	}
	v := s.view(c, "Contacts", "contacts")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "contacts", v)
}

// numberedContacts is a numbered page of the phonebook.
type numberedContacts struct {
	storage.ContactPage
	number, pages int
}

// contactsPage reads page number n (from 1, phonebookPage contacts a
// page) of the contacts matching text; a number past the last page is the
// last page.
func (s *Server) contactsPage(ctx context.Context, orgID, text string, n int) (numberedContacts, error) {
	if len([]rune(text)) > storage.MaxContactSearchText {
		text = string([]rune(text)[:storage.MaxContactSearchText])
	}
	q := storage.ContactQuery{OrgID: orgID, Text: text, Limit: phonebookPage, Offset: (n - 1) * phonebookPage}
	page, err := s.deps.Org.SearchContacts(ctx, q)
	if err != nil {
		return numberedContacts{}, err
	}
	out := numberedContacts{ContactPage: page, number: n, pages: max(1, (page.Total+phonebookPage-1)/phonebookPage)}
	if n > out.pages {
		out.number, q.Offset = out.pages, (out.pages-1)*phonebookPage
		if out.ContactPage, err = s.deps.Org.SearchContacts(ctx, q); err != nil {
			return numberedContacts{}, err
		}
	}
	return out, nil
}

func contactFields() []string {
	return []string{"name", "company", "email", "phone", "notes", "user_id"}
}

func contactFrom(f *formState, id, orgID string) storage.Contact {
	return storage.Contact{ID: id, OrgID: orgID, UserID: f.V("user_id"), Name: f.V("name"), Email: f.V("email"),
		Phone: f.V("phone"), Company: f.V("company"), Notes: f.V("notes")}
}

func (s *Server) uiCreateContact(c *fiber.Ctx) error {
	f := readForm(c, "create", contactFields()...)
	a, _ := actorOf(c)
	if f.V("user_id") != "" {
		if _, err := s.orgUser(c, f.V("user_id")); err != nil {
			return failed(c, f, invalid("user_id", "is not a user of this organisation"), s.showContacts)
		}
	}
	ct, err := s.deps.Contacts.PutContact(c.UserContext(), a, contactFrom(f, "", a.OrgID))
	if err != nil {
		return failed(c, f, err, s.showContacts)
	}
	return done(c, "/contacts", fmt.Sprintf("Added %s to the phonebook.", ct.Name))
}

// orgContact reads a contact of the caller's organisation; another
// organisation's contact is not found.
func (s *Server) orgContact(c *fiber.Ctx, id string) (storage.Contact, error) {
	a, _ := actorOf(c)
	return s.deps.Org.Contact(c.UserContext(), a.OrgID, id)
}

type contactData struct {
	Contact storage.Contact
	Users   []storage.User
}

func (s *Server) uiContact(c *fiber.Ctx) error { return s.showContact(c, fiber.StatusOK, &formState{}) }

func (s *Server) showContact(c *fiber.Ctx, status int, f *formState) error {
	ct, err := s.orgContact(c, param(c, "id"))
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	users, err := s.deps.Org.Users(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	d := contactData{Contact: ct}
	for _, u := range users {
		if (u.Active && u.Kind == storage.UserRegular) || u.ID == ct.UserID {
			d.Users = append(d.Users, u)
		}
	}
	v := s.view(c, ct.Name, "contacts")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "contact", v)
}

func (s *Server) uiUpdateContact(c *fiber.Ctx) error {
	id := param(c, "id")
	old, err := s.orgContact(c, id)
	if err != nil {
		return err
	}
	f := readForm(c, "edit", contactFields()...)
	if f.V("user_id") != "" {
		if _, err := s.orgUser(c, f.V("user_id")); err != nil {
			return failed(c, f, invalid("user_id", "is not a user of this organisation"), s.showContact)
		}
	}
	a, _ := actorOf(c)
	next := contactFrom(f, id, a.OrgID)
	next.CreatedAt = old.CreatedAt
	ct, err := s.deps.Contacts.PutContact(c.UserContext(), a, next)
	if err != nil {
		return failed(c, f, err, s.showContact)
	}
	return done(c, "/contacts", fmt.Sprintf("Saved %s.", ct.Name))
}

func (s *Server) uiDeleteContact(c *fiber.Ctx) error {
	id := param(c, "id")
	ct, err := s.orgContact(c, id)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Contacts.DeleteContact(c.UserContext(), a, id); err != nil {
		return failed(c, &formState{Name: "edit"}, err, s.showContact)
	}
	return done(c, "/contacts", fmt.Sprintf("Deleted %s from the phonebook.", ct.Name))
}

// ---- account -----------------------------------------------------------
