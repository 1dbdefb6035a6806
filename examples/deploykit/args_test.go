package main

import "testing"

func TestLooksLikePath(t *testing.T) {
	for arg, want := range map[string]bool{
		"./src":                      true,
		".":                          true,
		"/srv/app":                   true,
		"sub/dir":                    true,
		"django>=4.2":                false,
		"demo @ file:///srv/app":     false,
		"git+https://h/r.git#egg=x":  false,
		"requests[security]==2.31.0": false,
	} {
		if got := looksLikePath(arg); got != want {
			t.Errorf("looksLikePath(%q) = %v, want %v", arg, got, want)
		}
	}
}
