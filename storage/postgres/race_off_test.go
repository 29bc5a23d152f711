//go:build !race

package postgres

// raceEnabled: see race_on_test.go.
const raceEnabled = false
