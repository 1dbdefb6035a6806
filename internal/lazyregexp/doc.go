// Package lazyregexp is a regular expression compiled on first use.
//
// A package-level regexp.MustCompile runs when the program starts, in
// every process of every command, whether or not the expression is ever
// used. The deploykit CLI links some thirty of them across its packages;
// compiling them was about a third of the instructions `deploykit venv`
// executed before doing anything. A [Regexp] from [New] is compiled the
// first time one of its methods is called, once, and is safe for
// concurrent use. An invalid expression still panics, on first use (its
// package's tests use it).
package lazyregexp
