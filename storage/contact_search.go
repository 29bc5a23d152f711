package storage

// ContactQuery selects one page of an organisation's phonebook, in the
// order the phonebook lists it: by name ignoring case, then by id.
type ContactQuery struct {
	OrgID string // required

	// Text, when set, must appear in the name, company, e-mail or phone
	// of a contact, anywhere and ignoring case. At most
	// MaxContactSearchText characters.
	Text string

	// Limit is the size of the page: default DefaultContactPage, at most
	// MaxContactPage.
	Limit int
	// Cursor is ContactPage.Next of the previous page of the same query
	// (the same organisation and text); "" is the first page.
	Cursor string
	// Offset skips as many matching contacts before the page, for pages
	// chosen by number. It cannot be combined with Cursor.
	Offset int
}

// ContactPage is one page of the phonebook.
type ContactPage struct {
	Contacts []Contact `json:"contacts"`
	// Total is how many contacts the query matches, on every page.
	Total int `json:"total"`
	// Next is the cursor of the next page; "" on the last one.
	Next string `json:"next,omitempty"`
}

// Bounds of a ContactQuery.
const (
	DefaultContactPage   = 50
	MaxContactPage       = 500
	MaxContactSearchText = 200
)
