package account

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// PasswdEntry is one line of passwd(5).
type PasswdEntry struct {
	Name  string
	UID   int
	GID   int
	Gecos string
	Home  string
	Shell string
}

// GroupEntry is one line of group(5).
type GroupEntry struct {
	Name    string
	GID     int
	Members []string
}

// ParseError names the file and line of a malformed passwd or group entry.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ParsePasswd reads passwd(5) content. Blank lines, comments and NIS
// "+"/"-" lines are skipped; a malformed line is an error naming file and
// line.
func ParsePasswd(file string, data []byte) ([]PasswdEntry, error) {
	var out []PasswdEntry
	err := eachLine(file, data, 7, func(line int, f []string) error {
		uid, err := parseID(f[2])
		if err != nil {
			return &ParseError{file, line, "uid " + strconv.Quote(f[2])}
		}
		gid, err := parseID(f[3])
		if err != nil {
			return &ParseError{file, line, "gid " + strconv.Quote(f[3])}
		}
		out = append(out, PasswdEntry{Name: f[0], UID: uid, GID: gid, Gecos: f[4], Home: f[5], Shell: f[6]})
		return nil
	})
	return out, err
}

// ParseGroup reads group(5) content, like ParsePasswd.
func ParseGroup(file string, data []byte) ([]GroupEntry, error) {
	var out []GroupEntry
	err := eachLine(file, data, 4, func(line int, f []string) error {
		gid, err := parseID(f[2])
		if err != nil {
			return &ParseError{file, line, "gid " + strconv.Quote(f[2])}
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		out = append(out, GroupEntry{Name: f[0], GID: gid, Members: members})
		return nil
	})
	return out, err
}

func eachLine(file string, data []byte, nfields int, fn func(line int, f []string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" || s[0] == '#' || s[0] == '+' || s[0] == '-' {
			continue
		}
		f := strings.Split(s, ":")
		if len(f) != nfields {
			return &ParseError{file, line, fmt.Sprintf("%d fields, want %d", len(f), nfields)}
		}
		if f[0] == "" {
			return &ParseError{file, line, "empty name"}
		}
		if err := fn(line, f); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &ParseError{file, line + 1, err.Error()}
	}
	return nil
}

func parseID(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("bad id %q", s)
	}
	return int(n), nil
}
