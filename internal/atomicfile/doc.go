// Package atomicfile writes files so that a reader — or a crash — sees either
// the old content or the new, never a part: the data goes to a temporary file
// in the same directory, is fsynced, renamed over the target, and the
// directory is fsynced so the rename itself survives a power cut.
package atomicfile
