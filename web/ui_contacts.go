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
	Total    int
	Query    string
	CanEdit  bool
	CanCall  bool // start a call (xa_ocall_create_conference)
	Users    []storage.User
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
	cs, err := s.deps.Org.Contacts(ctx, a.OrgID)
	if err != nil {
		return err
	}
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	d := contactsData{Total: len(cs), Query: strings.TrimSpace(c.Query("q")), CanEdit: s.can(a, policy.PhonebookEditor), CanCall: s.can(a, policy.CreateConference)}
	d.CanImport, d.ImportColumns = s.deps.People != nil, strings.Join(ContactCSVColumns, ",")
	q := strings.ToLower(d.Query)
	for _, ct := range cs {
		if q != "" && !strings.Contains(strings.ToLower(strings.Join([]string{ct.Name, ct.Company, ct.Email, ct.Phone, ct.Notes}, " ")), q) {
			continue
		}
		d.Contacts = append(d.Contacts, contactRow{Contact: ct, UserName: names[ct.UserID]})
	}
	d.Page, d.Pages = pageParam(c, "page"), max(1, (len(d.Contacts)+phonebookPage-1)/phonebookPage)
	d.Page = min(d.Page, d.Pages)
	from := (d.Page - 1) * phonebookPage
	d.Contacts = d.Contacts[from:min(from+phonebookPage, len(d.Contacts))]
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
