package api

import (
	"fmt"
	"slices"
	"strings"
)

// Scope names one permission a token carries. A request needs the scope its route declares.
type Scope string

// The scopes of the platform API. They are deliberately few and coarse: each one guards a
// family of routes, and a token asks only for the families it uses.
const (
	ScopeReadingsRead Scope = "readings:read" // pull readings and exports
	ScopeDevicesRead  Scope = "devices:read"  // see sites, devices and their status
	ScopeDevicesWrite Scope = "devices:write" // register, rename, move and retire devices
	ScopeDevicesKeys  Scope = "devices:keys"  // read or rotate device encryption keys
	ScopeTokensWrite  Scope = "tokens:write"  // mint, list and revoke one's own API tokens
	ScopeAdmin        Scope = "admin"         // account administration: audit log, everyone's tokens
)

// AllScopes lists every scope in a stable order (documentation and validation use it).
var AllScopes = []Scope{ScopeReadingsRead, ScopeDevicesRead, ScopeDevicesWrite, ScopeDevicesKeys, ScopeTokensWrite, ScopeAdmin}

// Known reports whether s is a scope this version of the API defines.
func (s Scope) Known() bool { return slices.Contains(AllScopes, s) }

// ParseScopes checks that every name is a known scope and returns them sorted and without
// duplicates; an unknown name is returned in the error so the caller can report it.
func ParseScopes(names []string) ([]Scope, error) {
	out := make([]Scope, 0, len(names))
	for _, n := range names {
		s := Scope(strings.TrimSpace(n))
		if !s.Known() {
			return nil, fmt.Errorf("unknown scope %q: use one of %s", n, JoinScopes(AllScopes))
		}
		out = append(out, s)
	}
	return SortScopes(out), nil
}

// SortScopes sorts scopes in AllScopes order and removes duplicates, in place.
func SortScopes(scopes []Scope) []Scope {
	slices.SortFunc(scopes, func(a, b Scope) int { return slices.Index(AllScopes, a) - slices.Index(AllScopes, b) })
	return slices.Compact(scopes)
}

// JoinScopes renders scopes as a comma-separated list for messages and tables.
func JoinScopes(scopes []Scope) string {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}

// Role is what a user is to an account; it bounds the scopes of every token the user holds.
type Role string

// The roles of an account, from most to least powerful.
const (
	RoleOwner     Role = "owner"     // everything, including deleting the account
	RoleAdmin     Role = "admin"     // everything but deleting the account
	RoleSupport   Role = "support"   // troubleshoots devices: status, keys and readings
	RoleInstaller Role = "installer" // installs devices on site
	RoleAnalyst   Role = "analyst"   // reads readings
)

// AllRoles lists every role in a stable order.
var AllRoles = []Role{RoleOwner, RoleAdmin, RoleSupport, RoleInstaller, RoleAnalyst}

// roleScopes is the least-privilege mapping of roles to scopes; docs/security.md repeats it.
var roleScopes = map[Role][]Scope{
	RoleOwner:     AllScopes,
	RoleAdmin:     AllScopes,
	RoleSupport:   {ScopeReadingsRead, ScopeDevicesRead, ScopeDevicesKeys, ScopeTokensWrite},
	RoleInstaller: {ScopeDevicesRead, ScopeDevicesWrite, ScopeTokensWrite},
	RoleAnalyst:   {ScopeReadingsRead, ScopeDevicesRead, ScopeTokensWrite},
}

// ParseRole checks that name is a known role.
func ParseRole(name string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(name)))
	if _, ok := roleScopes[r]; !ok {
		names := make([]string, len(AllRoles))
		for i, r := range AllRoles {
			names[i] = string(r)
		}
		return "", fmt.Errorf("unknown role %q: use one of %s", name, strings.Join(names, ", "))
	}
	return r, nil
}

// Scopes returns the scopes the role grants (a copy the caller may keep), none for an unknown role.
func (r Role) Scopes() []Scope { return slices.Clone(roleScopes[r]) }

// Allows reports whether the role grants scope s.
func (r Role) Allows(s Scope) bool { return slices.Contains(roleScopes[r], s) }

// MissingScope returns the first scope of want that have does not contain, or "" when have
// covers want. Handlers use it to name the missing scope in a 403.
func MissingScope(have, want []Scope) Scope {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return s
		}
	}
	return ""
}
