// Package testenv gives deploykit's tests the real parts they run against —
// interpreters, the shared conformance vectors, a wheelhouse of real wheels,
// system commands — and one rule for when a part is missing: outside CI the
// test is skipped with the reason; with CI=true it fails, because CI is
// expected to have installed everything (scripts/test.sh does).
//
// It is imported only from _test.go files.
package testenv
