package sqlite

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"
)

// A database whose schema a newer release wrote (a node downgraded, a
// backup of a newer node restored) is refused at open, naming both
// versions, and left as it was.
func TestOpenRefusesASchemaFromANewerRelease(t *testing.T) {
	ctx := context.Background()
	s, path := openTestStore(t)
	var latest int64
	if err := s.write.QueryRow(`SELECT max(version_id) FROM goose_db_version`).Scan(&latest); err != nil {
		t.Fatal(err)
	}
	newer := latest + 1
	if _, err := s.write.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, newer); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := Open(ctx, path, nil)
	if err == nil {
		t.Fatal("a schema at a newer version opened")
	}
	for _, want := range []string{"newer than this binary knows", strconv.FormatInt(newer, 10), strconv.FormatInt(latest, 10)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	// Nothing was changed: the newer version is still the database's.
	again, err := sql.Open("sqlite", readerDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var got int64
	if err := again.QueryRow(`SELECT max(version_id) FROM goose_db_version`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != newer {
		t.Fatalf("schema version %d after the refused open, want %d", got, newer)
	}
}
