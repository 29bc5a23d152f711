//go:build race

package node

// raceDetector tells whether the tests run under the race detector, which
// makes the code several times slower.
const raceDetector = true
