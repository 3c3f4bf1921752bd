package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/smart-impulse/smartx/internal/api"
)

func TestDecodeJSONBody(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		field string // "" for success
	}{
		{"ok", `{"email":"a@b.c","password":"p"}`, ""},
		{"whitespace after", "{\"email\":\"a\"}\n  ", ""},
		{"unknown field", `{"emial":"a"}`, "emial"},
		{"syntax", `{"email":`, "body"},
		{"type", `{"email":true}`, "email"},
		{"trailing object", `{}{}`, "body"},
		{"trailing garbage", `{} x`, "body"},
		{"empty", ``, "body"},
		{"array", `[]`, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req api.LoginRequest
			err := decodeJSONBody(strings.NewReader(tt.body), &req)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Fatalf("error %v, want a validation error on %q", err, tt.field)
			}
		})
	}
}

// FuzzDecodeJSON feeds arbitrary bodies to the request decoder: it must never panic, and every
// error must become a 4xx problem, never a 500.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{"email":"a@b.c","password":"p"}`, `{"name":"x","scopes":["admin"],"sites":["sit_a"],"expires_at":"2026-01-01T00:00:00Z"}`, `{`, `[]`, `{"scopes":[1]}`, `{"expires_at":"soon"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&api.LoginRequest{}, &api.CreateTokenRequest{}} {
			err := decodeJSONBody(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), maxJSONBody), v)
			if err == nil {
				continue
			}
			if p := problemFor(err).problem; p.Status < 400 || p.Status >= 500 {
				t.Fatalf("decode error %v maps to status %d", err, p.Status)
			}
		}
	})
}
