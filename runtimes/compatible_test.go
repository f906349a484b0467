package runtimes

import (
	"errors"
	"strings"
	"testing"
)

func TestNewerAndCompatible(t *testing.T) {
	exts := []string{"core", "opcache", "pdo_mysql"}
	from := Entry{Key: "k1", Run: "sha256:1", PHPMinor: "8.4", Extensions: exts, Built: "2026-11-01T00:00:00Z"}
	same := func(run, built string) Entry {
		return Entry{Key: "k" + run, Run: run, PHPMinor: "8.4", Extensions: exts, Built: built}
	}
	entries := []Entry{
		from,
		same("sha256:2", "2026-11-20T00:00:00Z"),
		same("sha256:3", "2026-12-01T00:00:00Z"),
		same("sha256:0", "2026-10-01T00:00:00Z"), // older
		{Key: "k8.5", Run: "sha256:4", PHPMinor: "8.5", Extensions: exts, Built: "2026-12-02T00:00:00Z"},
		{Key: "kph", Run: "sha256:5", PHPMinor: "8.4", Phalcon: "5.18.1", Extensions: exts, Built: "2026-12-02T00:00:00Z"},
		{Key: "kext", Run: "sha256:6", PHPMinor: "8.4", Extensions: []string{"core", "opcache", "redis"}, Built: "2026-12-02T00:00:00Z"},
	}
	got, ok := Newer(from, entries)
	if !ok || got.Run != "sha256:3" {
		t.Errorf("Newer: %+v, %v; want the newest compatible, sha256:3", got, ok)
	}
	if got, ok := Newer(entries[2], entries); ok {
		t.Errorf("Newer of the newest: %+v; want none", got)
	}
	for _, tc := range []struct {
		to   Entry
		want string
	}{
		{entries[4], "changes PHP 8.4 to 8.5"},
		{entries[5], "changes Phalcon none to 5.18.1"},
		{entries[6], "the extensions (+redis -pdo_mysql)"},
	} {
		err := Compatible(from, tc.to)
		var ie *IncompatibleError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "needs `phpbuild build`") {
			t.Errorf("Compatible with %s: %v; want an IncompatibleError saying %q", tc.to.Key, err, tc.want)
		}
	}
}

func TestPick(t *testing.T) {
	run := "sha256:" + strings.Repeat("ab", 32)
	entries := []Entry{{Key: "sha256:" + strings.Repeat("cd", 32), Run: run}}
	for _, want := range []string{run, entries[0].Key, strings.Repeat("ab", 6), strings.Repeat("cd", 6)} {
		if e, ok := Pick(entries, want); !ok || e.Run != run {
			t.Errorf("Pick(%q) = %+v, %v", want, e, ok)
		}
	}
	if _, ok := Pick(entries, "sha256:00"); ok {
		t.Error("Pick found an entry for a digest no entry has")
	}
}
