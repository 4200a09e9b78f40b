// Package e2e holds the end-to-end tests of Lockbox: each starts the whole
// stack as make run does (scripts/internal/localrun) and drives it from the
// outside, through the gateway, the pinned faas-cli, lockboxctl and a real
// browser; TestREADMECommands runs the README's shell blocks against it,
// and the other README tests hold the README's examples, settings and
// deployment steps to what the code and stack.yml do. The package has no
// code of its own beyond its tests.
package e2e
