//go:build race

package postgres

// raceEnabled: the race detector slows the SQLite store tenfold, so the
// test that compares the two writes less history under it.
const raceEnabled = true
