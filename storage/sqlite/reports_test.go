package sqlite

import (
	"fmt"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/storagetest"
)

// reportAt is version v of report "r1" of session "s1", written at t; the
// report was created at 10:30.
func reportAt(v int, t time.Time, body string, fields map[string]string) storage.ServiceReport {
	return storage.ServiceReport{ID: "r1", VersionID: fmt.Sprintf("r1-v%d", v), OrgID: "o1", SiteID: "site-a",
		SessionID: "s1", Version: v, Fields: fields, Body: body, CreatedBy: "u1", CreatedAt: time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC),
		EditedBy: "u1", EditedAt: t, Origin: "node-a"}
}

// TestServiceReports runs the service reports' conformance suite, which
// storage/postgres runs too, on SQLite files.
func TestServiceReports(t *testing.T) {
	storagetest.ServiceReports(t, func(t *testing.T) storagetest.ReportBackend {
		s, _ := openTestStore(t)
		return s
	})
}

// TestReportSearch runs the reports' search conformance suite, which
// storage/postgres runs too, on a SQLite file.
func TestReportSearch(t *testing.T) {
	storagetest.ReportSearch(t, func(t *testing.T) storagetest.ReportSearchBackend {
		s, _ := openTestStore(t)
		return s
	})
}
