//go:build race

package sqlite

// raceEnabled: the race detector slows SQLite tenfold, so the property
// tests use less data under it.
const raceEnabled = true
