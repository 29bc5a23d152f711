package sqlite

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"siteline/storage"
)

// domainError maps SQLite constraint failures to the storage domain errors
// and returns any other error as it is. The SQLite message is kept, since
// it names the constraint.
func domainError(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%s: %w", se.Error(), storage.ErrConflict)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%s: a referenced record does not exist: %w", se.Error(), storage.ErrNotFound)
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return fmt.Errorf("%s: %w", se.Error(), storage.ErrInvalid)
	}
	return err
}

// deterministic reports whether err comes from the command itself
// (validation, a constraint, a missing record) and so fails identically on
// every node, as opposed to an I/O or context error local to this node.
func deterministic(err error) bool {
	return errors.Is(err, storage.ErrInvalid) ||
		errors.Is(err, storage.ErrConflict) ||
		errors.Is(err, storage.ErrNotFound)
}
