package node

import (
	"os"
	"testing"

	"siteline/internal/pgtest"
)

// TestMain stops the PostgreSQL cluster the tests of a history database
// started, if any.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
