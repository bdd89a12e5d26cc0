//go:build race

package e2e_test

// raceEnabled: under go test -race the server binary is built with -race
// too, and a data race it reports fails the test that ran it.
const raceEnabled = true
