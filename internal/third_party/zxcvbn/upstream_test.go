package zxcvbn

import (
	"testing"

	upstream "github.com/trustelem/zxcvbn"
)

// TestSameAsUpstream: the patch only moves when the dictionaries are built; every estimate is
// upstream's.
func TestSameAsUpstream(t *testing.T) {
	for _, tt := range []struct {
		password string
		inputs   []string
	}{
		{"password", nil}, {"correcthorsebatterystaple", nil}, {"qwertyuiop1234", nil},
		{"Tr0ub4dour&3", nil}, {"1987-05-12", nil}, {"aaaaaaaaaaaa", nil}, {"abcdefghijkl", nil},
		{"zxcvbnm,./", nil}, {"jeanne.dupont2026", []string{"jeanne", "dupont"}},
		{"smartx-acme-2026", []string{"smartx", "acme"}}, {"cs52t-hpe2p-bct25-h3k5x-pk4zk", nil},
		{"日本語のパスワード", nil}, {"", nil},
	} {
		got, want := PasswordStrength(tt.password, tt.inputs), upstream.PasswordStrength(tt.password, tt.inputs)
		if got.Guesses != want.Guesses || got.Score != want.Score || len(got.Sequence) != len(want.Sequence) {
			t.Errorf("%q: guesses %g score %d (%d matches), upstream %g score %d (%d matches)", tt.password,
				got.Guesses, got.Score, len(got.Sequence), want.Guesses, want.Score, len(want.Sequence))
		}
	}
}
