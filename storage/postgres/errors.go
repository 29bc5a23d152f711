package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"siteline/storage"
)

// SQLSTATE codes of the constraint failures the store maps.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
	checkViolation      = "23514"
	notNullViolation    = "23502"
	invalidText         = "22P02" // malformed input for a column's type (JSON)
	badEncoding         = "22021" // text that is not UTF-8, or holds a NUL byte
	untranslatable      = "22P05" // a JSON \u0000 read out of a payload as text
)

// domainError maps PostgreSQL constraint failures to the storage domain
// errors, as storage/sqlite does for SQLite's, and returns any other error
// as it is. The server's message is kept, since it names the constraint.
func domainError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case uniqueViolation:
		return fmt.Errorf("%s: %w", pe.Error(), storage.ErrConflict)
	case foreignKeyViolation:
		return fmt.Errorf("%s: a referenced record does not exist: %w", pe.Error(), storage.ErrNotFound)
	case checkViolation, notNullViolation, invalidText, badEncoding, untranslatable:
		return fmt.Errorf("%s: %w", pe.Error(), storage.ErrInvalid)
	}
	return err
}
