package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRoleScopes pins the least-privilege mapping that docs/security.md and openapi.yaml state.
func TestRoleScopes(t *testing.T) {
	tests := []struct {
		role Role
		want []Scope
	}{
		{RoleOwner, AllScopes},
		{RoleAdmin, AllScopes},
		{RoleSupport, []Scope{ScopeReadingsRead, ScopeDevicesRead, ScopeDevicesKeys, ScopeTokensWrite}},
		{RoleInstaller, []Scope{ScopeDevicesRead, ScopeDevicesWrite, ScopeTokensWrite}},
		{RoleAnalyst, []Scope{ScopeReadingsRead, ScopeDevicesRead, ScopeTokensWrite}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			if got := tt.role.Scopes(); !slices.Equal(got, tt.want) {
				t.Fatalf("%s scopes = %v, want %v", tt.role, got, tt.want)
			}
			for _, s := range AllScopes {
				if tt.role.Allows(s) != slices.Contains(tt.want, s) {
					t.Fatalf("%s.Allows(%s) wrong", tt.role, s)
				}
			}
		})
	}
	if len(AllRoles) != len(tests) {
		t.Fatal("a role is missing from the table")
	}
	if Role("root").Scopes() != nil || Role("root").Allows(ScopeAdmin) {
		t.Fatal("an unknown role grants scopes")
	}
	// Scopes returns a copy: a caller cannot widen a role.
	s := RoleAnalyst.Scopes()
	s[0] = ScopeAdmin
	if RoleAnalyst.Allows(ScopeAdmin) {
		t.Fatal("mutating Scopes() changed the role")
	}
}

func TestParseRoleAndScopes(t *testing.T) {
	if r, err := ParseRole(" Analyst "); err != nil || r != RoleAnalyst {
		t.Fatalf("ParseRole = %v, %v", r, err)
	}
	if _, err := ParseRole("superuser"); err == nil || !strings.Contains(err.Error(), "owner, admin") {
		t.Fatalf("ParseRole(superuser) = %v", err)
	}
	got, err := ParseScopes([]string{"admin", "readings:read", "admin"})
	if err != nil || !slices.Equal(got, []Scope{ScopeReadingsRead, ScopeAdmin}) {
		t.Fatalf("ParseScopes = %v, %v", got, err)
	}
	if _, err := ParseScopes([]string{"readings:write"}); err == nil {
		t.Fatal("ParseScopes accepted an unknown scope")
	}
	if m := MissingScope([]Scope{ScopeReadingsRead}, []Scope{ScopeReadingsRead, ScopeAdmin}); m != ScopeAdmin {
		t.Fatalf("MissingScope = %q", m)
	}
	if m := MissingScope(AllScopes, AllScopes); m != "" {
		t.Fatalf("MissingScope = %q", m)
	}
}

func TestProblems(t *testing.T) {
	if len(AllCodes) != len(codeStatus) {
		t.Fatal("AllCodes and codeStatus disagree")
	}
	for _, c := range AllCodes {
		p := NewProblem(c, "detail")
		if p.Status != c.Status() || p.Type != ProblemTypePrefix+string(c) || p.Title != http.StatusText(p.Status) || p.Code != c {
			t.Errorf("NewProblem(%s) = %+v", c, p)
		}
		if !strings.Contains(p.Error(), string(c)) {
			t.Errorf("%s: Error() = %q", c, p.Error())
		}
	}
	if Code("teapot").Status() != 500 {
		t.Error("an unknown code is not a 500")
	}
	raw, _ := json.Marshal(NewProblem(CodeInsufficientScope, "need admin"))
	var fields map[string]any
	json.Unmarshal(raw, &fields)
	for _, k := range []string{"type", "title", "status", "detail", "code"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("problem JSON lacks %q: %s", k, raw)
		}
	}
}

func TestTokenLifetimes(t *testing.T) {
	if DefaultTokenTTL != 90*24*time.Hour || MaxTokenTTL < 365*24*time.Hour || MaxTokenTTL > 366*24*time.Hour || SessionTokenTTL != 12*time.Hour {
		t.Fatal("token lifetimes differ from the documented 90 days, one year and 12 hours")
	}
}
