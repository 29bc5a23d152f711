// Package historybench times the two history stores side by side on the
// same history: storage/sqlite's file and storage/postgres's database,
// the second filled from the first by `siteline storage migrate`. It holds
// benchmarks only (bench_test.go); docs/benchmarks.md has their figures
// and the commands that give them.
package historybench
