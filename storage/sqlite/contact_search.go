package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"siteline/storage"
)

// Search of the phonebook (storage.ContactQuery): one organisation's
// contacts in name order, walked on the index contacts_org_name of
// migration 00023, filtered by a text found through the trigram index
// contacts_fts. A page is either the next after a cursor (keyset: it costs
// the same wherever it is, and contacts written meanwhile neither repeat
// nor vanish) or the one at an offset (numbered pages).

// contactColumns are the columns a contact is read from, as queryContacts
// reads them.
const contactColumns = `c.id, c.org_id, c.user_id, c.name, c.email, c.phone, c.company, c.notes, c.created_at`

// SearchContacts returns one page of an organisation's contacts matching
// q, with how many match in all. Bad input (no organisation, a page size
// out of range, a negative offset, a malformed cursor or one of another
// query, a cursor with an offset) is a *storage.ValidationError naming the
// field.
func (s *Store) SearchContacts(ctx context.Context, q storage.ContactQuery) (storage.ContactPage, error) {
	return s.searchContacts(ctx, q, autoPlan)
}

func (s *Store) searchContacts(ctx context.Context, q storage.ContactQuery, plan contactPlan) (storage.ContactPage, error) {
	p, err := planContactSearch(q)
	if err != nil {
		return storage.ContactPage{}, fmt.Errorf("search contacts: %w", err)
	}
	// One read transaction: the count and the page see the same contacts.
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return storage.ContactPage{}, fmt.Errorf("search contacts of %s: %w", q.OrgID, err)
	}
	defer tx.Rollback()
	page, err := p.run(ctx, tx, plan)
	if err != nil {
		return storage.ContactPage{}, fmt.Errorf("search contacts of %s: %w", q.OrgID, err)
	}
	return page, nil
}

// A page of a text's matches is read in one of two ways: walking the
// organisation's contacts in name order until the page is full, which
// visits about (offset+limit) × contacts / matches rows, short when the
// text is common and the page near the start; or reading every match and
// sorting them, which costs as many rows as there are matches. The
// search walks when there are more than sparseContacts matches and the
// page ends within the first 1/walkShare of them. A text with at most
// sparseContacts matches in the whole store is looked up once (lookUp).
const (
	sparseContacts = 1000
	walkShare      = 20
)

// contactPlan chooses how a page is read; tests force one or the other.
type contactPlan int

const (
	autoPlan contactPlan = iota
	walkPlan
	sortPlan
)

// contactSearch is a validated query turned into SQL.
type contactSearch struct {
	q      storage.ContactQuery
	match  string // the FTS5 query of a text of three characters or more
	rowids string // the JSON array of its matches' rowids when they are few
	like   string // the LIKE pattern of a shorter one
	after  *contactCursor
	limit  int
	finger string
}

func planContactSearch(q storage.ContactQuery) (contactSearch, error) {
	bad := func(field, problem string) error { return &storage.ValidationError{Field: field, Problem: problem} }
	q.Text = strings.TrimSpace(q.Text)
	p := contactSearch{q: q, limit: q.Limit}
	switch {
	case q.OrgID == "":
		return p, bad("org_id", "is required")
	case utf8.RuneCountInString(q.Text) > storage.MaxContactSearchText:
		return p, bad("text", fmt.Sprintf("must be at most %d characters", storage.MaxContactSearchText))
	case q.Limit < 0 || q.Limit > storage.MaxContactPage:
		return p, bad("limit", fmt.Sprintf("must be from 1 to %d", storage.MaxContactPage))
	case q.Offset < 0:
		return p, bad("offset", "must not be negative")
	case q.Offset > 0 && q.Cursor != "":
		return p, bad("cursor", "cannot be combined with an offset")
	}
	if p.limit == 0 {
		p.limit = storage.DefaultContactPage
	}
	p.finger = contactFingerprint(q)
	if q.Cursor != "" {
		c, err := decodeContactCursor(q.Cursor, p.finger)
		if err != nil {
			return p, err
		}
		p.after = &c
	}
	switch {
	case q.Text == "":
	case utf8.RuneCountInString(q.Text) >= 3:
		// A phrase of trigrams: the text as a substring of one column.
		p.match = `"` + strings.ReplaceAll(q.Text, `"`, `""`) + `"`
	default:
		// Too short for a trigram: LIKE, which ignores the case of ASCII
		// letters only.
		p.like = "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.Text) + "%"
	}
	return p, nil
}

func (p contactSearch) run(ctx context.Context, db querier, plan contactPlan) (storage.ContactPage, error) {
	page := storage.ContactPage{Contacts: []storage.Contact{}}
	if err := p.lookUp(ctx, db, plan); err != nil {
		return page, err
	}
	count, args := p.countSQL()
	if err := db.QueryRowContext(ctx, count, args...).Scan(&page.Total); err != nil {
		return page, err
	}
	if page.Total == 0 || p.q.Offset >= page.Total {
		return page, nil
	}
	query, args := p.pageSQL(p.walks(page.Total, plan))
	list, err := collect(ctx, db, scanContact, query, args...)
	if err != nil {
		return page, err
	}
	if len(list) > p.limit {
		list = list[:p.limit]
		last := list[len(list)-1]
		page.Next = encodeContactCursor(contactCursor{F: p.finger, Name: last.Name, ID: last.ID})
	}
	page.Contacts = list
	return page, nil
}

// lookUp reads the rowids of a text's matches, of every organisation, when
// they are at most sparseContacts: a rare text is then looked up once, and
// its matches counted and sorted from their rowids without evaluating the
// FTS5 query again (a long text, such as an e-mail address, is many
// trigrams, each costly to look up).
func (p *contactSearch) lookUp(ctx context.Context, db querier, plan contactPlan) error {
	if p.match == "" || plan == walkPlan {
		return nil
	}
	ids, err := collect(ctx, db, func(r *sql.Rows) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	}, `SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ? LIMIT ?`, p.match, sparseContacts+1)
	if err != nil || len(ids) > sparseContacts {
		return err
	}
	data, _ := json.Marshal(ids) // integers cannot fail
	p.rowids = string(data)
	return nil
}

// likeSQL is the condition of a short text on the contact c.
const likeSQL = ` AND (c.name LIKE ? ESCAPE '\' OR c.company LIKE ? ESCAPE '\' OR c.email LIKE ? ESCAPE '\' OR c.phone LIKE ? ESCAPE '\')`

// countSQL counts the matches: from the trigram index when there is one
// (each match then costs one lookup of its contact's organisation), else
// by reading the organisation's contacts in table order, cheaper than in
// the index's.
func (p contactSearch) countSQL() (string, []any) {
	switch {
	case p.rowids != "":
		return `SELECT count(*) FROM json_each(?) j CROSS JOIN contacts c ON c.rowid = j.value WHERE c.org_id = ?`,
			[]any{p.rowids, p.q.OrgID}
	case p.match != "":
		return `SELECT count(*) FROM contacts_fts f CROSS JOIN contacts c ON c.rowid = f.rowid
			WHERE contacts_fts MATCH ? AND c.org_id = ?`, []any{p.match, p.q.OrgID}
	case p.like != "":
		return `SELECT count(*) FROM contacts c NOT INDEXED WHERE c.org_id = ?` + likeSQL,
			[]any{p.q.OrgID, p.like, p.like, p.like, p.like}
	}
	return `SELECT count(*) FROM contacts c WHERE c.org_id = ?`, []any{p.q.OrgID}
}

// walks says whether the page is read walking the organisation's contacts
// in name order (always without a text) rather than sorting the matches.
func (p contactSearch) walks(matches int, plan contactPlan) bool {
	switch {
	case p.rowids != "":
		return false
	case p.match == "" && p.like == "", plan == walkPlan:
		return true
	case plan == sortPlan:
		return false
	}
	return matches > sparseContacts && p.q.Offset+p.limit <= matches/walkShare
}

// pageSQL reads the page and the first contact after it, which says
// whether there is a next page. The cursor's condition is written so that
// its first term bounds the walk on contacts_org_name.
func (p contactSearch) pageSQL(walk bool) (string, []any) {
	from, where, args := `contacts c INDEXED BY contacts_org_name`, `c.org_id = ?`, []any{p.q.OrgID}
	switch {
	case p.rowids != "":
		from, args = `json_each(?) j CROSS JOIN contacts c ON c.rowid = j.value`, []any{p.rowids, p.q.OrgID}
	case p.match != "" && !walk:
		from, where = `contacts_fts f CROSS JOIN contacts c ON c.rowid = f.rowid`, `contacts_fts MATCH ? AND c.org_id = ?`
		args = []any{p.match, p.q.OrgID}
	case p.match != "":
		where += ` AND c.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)`
		args = append(args, p.match)
	case p.like != "":
		if !walk {
			from = `contacts c NOT INDEXED`
		}
		where += likeSQL
		args = append(args, p.like, p.like, p.like, p.like)
	}
	if p.after != nil {
		where += ` AND c.name >= ? COLLATE NOCASE AND (c.name > ? COLLATE NOCASE OR c.id > ?)`
		args = append(args, p.after.Name, p.after.Name, p.after.ID)
	}
	args = append(args, p.limit+1, p.q.Offset)
	return `SELECT ` + contactColumns + ` FROM ` + from + ` WHERE ` + where +
		` ORDER BY c.name COLLATE NOCASE, c.id LIMIT ? OFFSET ?`, args
}

func scanContact(r *sql.Rows) (storage.Contact, error) {
	var c storage.Contact
	return c, r.Scan(&c.ID, &c.OrgID, stringDest{&c.UserID}, &c.Name, &c.Email, &c.Phone,
		&c.Company, &c.Notes, timeDest{&c.CreatedAt})
}

// A contact cursor is the base64url of {"f": fingerprint, "n": name, "id":
// id} of the last contact of a page, then "." and a checksum of that. The
// fingerprint ties it to its query's organisation and text; the checksum
// catches one edited by hand. It is no secret: the query's organisation is
// enforced whatever a cursor says.
type contactCursor struct {
	F    string `json:"f"`
	Name string `json:"n"`
	ID   string `json:"id"`
}

func encodeContactCursor(c contactCursor) string {
	data, _ := json.Marshal(c) // plain strings cannot fail
	return base64.RawURLEncoding.EncodeToString(data) + "." + contactChecksum(data)
}

func decodeContactCursor(s, fp string) (contactCursor, error) {
	bad := &storage.ValidationError{Field: "cursor", Problem: "is malformed or was altered"}
	body, sum, ok := strings.Cut(s, ".")
	if !ok {
		return contactCursor{}, bad
	}
	data, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || sum != contactChecksum(data) {
		return contactCursor{}, bad
	}
	var c contactCursor
	if err := json.Unmarshal(data, &c); err != nil || c.ID == "" {
		return contactCursor{}, bad
	}
	if c.F != fp {
		return contactCursor{}, &storage.ValidationError{Field: "cursor", Problem: "belongs to another search (its text differs)"}
	}
	return c, nil
}

func contactChecksum(data []byte) string {
	h := sha256.Sum256(append([]byte("siteline.contact-cursor\x00"), data...))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

// contactFingerprint identifies the organisation and text of a query.
func contactFingerprint(q storage.ContactQuery) string {
	h := sha256.Sum256([]byte(q.OrgID + "\x00" + q.Text))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}
