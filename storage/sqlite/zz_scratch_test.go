package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// scratch: SQL=... DB=... go test -run TestScratch
func TestScratch(t *testing.T) {
	path := os.Getenv("DB")
	if path == "" {
		t.Skip()
	}
	db, err := sql.Open("sqlite", "file://"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range strings.Split(os.Getenv("SQL"), ";;") {
		q = strings.TrimSpace(q)
		if q == "" {
			continue
		}
		rows, err := db.Query("EXPLAIN QUERY PLAN " + q)
		if err == nil {
			for rows.Next() {
				var a, b, c int
				var d string
				rows.Scan(&a, &b, &c, &d)
				fmt.Println("  plan:", d)
			}
			rows.Close()
		}
		for i := 0; i < 3; i++ {
			start := time.Now()
			rows, err := db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			n := 0
			var first string
			for rows.Next() {
				v := make([]any, len(cols))
				p := make([]any, len(cols))
				for j := range v {
					p[j] = &v[j]
				}
				rows.Scan(p...)
				if n == 0 {
					first = fmt.Sprint(v)
				}
				n++
			}
			rows.Close()
			fmt.Printf("  %d rows in %v  first %.80s\n", n, time.Since(start), first)
		}
	}
}
