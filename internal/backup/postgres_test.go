package backup

import (
	"errors"
	"strings"
	"testing"
)

func TestSplitPassword(t *testing.T) {
	tests := []struct {
		in, url, password string
	}{
		{"postgres://smartx:s3cret@db.example:5432/smartx?sslmode=verify-full", "postgres://smartx@db.example:5432/smartx?sslmode=verify-full", "s3cret"},
		{"postgresql://smartx@127.0.0.1/smartx?password=p%40ss&sslmode=disable", "postgresql://smartx@127.0.0.1/smartx?sslmode=disable", "p@ss"},
		{"postgres://127.0.0.1/smartx", "postgres://127.0.0.1/smartx", ""},
		{"host=127.0.0.1 dbname=smartx", "host=127.0.0.1 dbname=smartx", ""},
	}
	for _, tt := range tests {
		url, password, err := splitPassword(tt.in)
		if err != nil || url != tt.url || password != tt.password {
			t.Errorf("splitPassword(%q) = %q, %q, %v; want %q, %q", tt.in, url, password, err, tt.url, tt.password)
		}
	}
	if _, _, err := splitPassword("postgres://u:secret@[::1"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad URL: %v; want an error that does not show the password", err)
	}
}

func TestMissingToolNamesThePackage(t *testing.T) {
	_, err := findTool("pg_dump_of_another_world")
	if !errors.Is(err, ErrNoPgDump) || !strings.Contains(err.Error(), "apt-get install postgresql-client") {
		t.Fatalf("findTool of a missing program: %v", err)
	}
}
