package auth

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	zxcvbn "github.com/smart-impulse/smartx/internal/third_party/zxcvbn"
)

// Password length bounds, in characters (Unicode code points), per NIST SP 800-63B: a long
// minimum, a maximum high enough for passphrases and password managers, no composition rules.
const (
	MinPasswordLength = 12
	MaxPasswordLength = 128
)

// PolicyReason says why a password was refused; clients may show a fitting hint.
type PolicyReason string

// The reasons a password is refused.
const (
	ReasonTooShort   PolicyReason = "too_short"
	ReasonTooLong    PolicyReason = "too_long"
	ReasonInvalid    PolicyReason = "invalid"    // not UTF-8, or control characters
	ReasonCommon     PolicyReason = "common"     // on the denylist, or a denylisted word dressed up
	ReasonRepetitive PolicyReason = "repetitive" // a few characters repeated, or a run like abcdef
	ReasonContext    PolicyReason = "context"    // contains the user's e-mail name or the service name
	ReasonGuessable  PolicyReason = "guessable"  // a strength estimator finds a pattern crackers try early
)

// minGuesses is the strength a password must have for zxcvbn's estimator (its score 4): 10^10
// guesses, out of reach of an online attacker behind the login limits and a costly offline
// search against argon2id hashes.
const minGuesses = 1e10

// PolicyError is a password the policy refuses. Its message is safe to show: it never quotes
// the password.
type PolicyError struct {
	Reason PolicyReason
	Msg    string
}

func (e *PolicyError) Error() string { return e.Msg }

//go:embed denylist.txt
var denylistText string

// serviceWords are always context words: a password naming the service is a guessable one.
var serviceWords = []string{"smartx", "smart-x", "smartimpulse", "smart-impulse", "impulse"}

// PasswordPolicy checks new passwords against NIST SP 800-63B: length, a denylist of common
// passwords and well-known passphrases, repetitive or sequential strings, words from the
// user's own context, then a strength estimate (zxcvbn, github.com/trustelem/zxcvbn: keyboard
// walks, repeated words, dates, dictionary words with substitutions).
type PasswordPolicy struct {
	denied map[string]struct{}
}

// NewPasswordPolicy returns the policy with the embedded denylist.
func NewPasswordPolicy() *PasswordPolicy {
	p := &PasswordPolicy{denied: make(map[string]struct{}, 8192)}
	sc := bufio.NewScanner(strings.NewReader(denylistText))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p.denied[line] = struct{}{}
	}
	return p
}

// DenylistSize returns how many passwords the denylist holds.
func (p *PasswordPolicy) DenylistSize() int { return len(p.denied) }

// Check returns nil when password is acceptable, a *PolicyError otherwise. contextWords are
// values an attacker would try first, such as the e-mail address or account name; they are
// split into words and a password containing one of four letters or more is refused.
func (p *PasswordPolicy) Check(password string, contextWords ...string) error {
	if !utf8.ValidString(password) {
		return &PolicyError{ReasonInvalid, "password must be valid UTF-8 text"}
	}
	for _, r := range password {
		if unicode.IsControl(r) {
			return &PolicyError{ReasonInvalid, "password must not contain control characters"}
		}
	}
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLength {
		return &PolicyError{ReasonTooShort, fmt.Sprintf("password must be at least %d characters; a few unrelated words make a good one", MinPasswordLength)}
	}
	if n > MaxPasswordLength {
		return &PolicyError{ReasonTooLong, fmt.Sprintf("password must be at most %d characters", MaxPasswordLength)}
	}
	lower := strings.ToLower(password)
	if _, ok := p.denied[lower]; ok {
		return &PolicyError{ReasonCommon, "password is too common: choose one nobody else would"}
	}
	// A passphrase is as known with its spaces and dashes as without them.
	if _, ok := p.denied[strings.Map(dropSeparators, lower)]; ok {
		return &PolicyError{ReasonCommon, "password is a well-known phrase: choose one nobody else would"}
	}
	core := deleet(strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) }))
	if _, ok := p.denied[core]; ok && core != "" {
		return &PolicyError{ReasonCommon, "password is a common word with digits or symbols added: choose one nobody else would"}
	}
	if isRepetitive(lower) {
		return &PolicyError{ReasonRepetitive, "password is a repeated or sequential pattern: choose one nobody else would"}
	}
	var inputs []string
	for _, w := range append(contextWords, serviceWords...) {
		for _, word := range splitContext(w) {
			if strings.Contains(lower, word) || strings.Contains(core, word) {
				return &PolicyError{ReasonContext, "password must not contain your e-mail name, the account name or the service name"}
			}
			inputs = append(inputs, word)
		}
	}
	if zxcvbn.PasswordStrength(password, inputs).Guesses < minGuesses {
		return &PolicyError{ReasonGuessable, "password follows a pattern crackers try early (a keyboard walk, a repeated word, a date): a few unrelated words make a good one"}
	}
	return nil
}

// dropSeparators removes spaces, dashes, dots and underscores (strings.Map).
func dropSeparators(r rune) rune {
	switch r {
	case ' ', '-', '_', '.':
		return -1
	}
	return r
}

// splitContext lowers s and splits it into its words of four letters or more; for an e-mail
// address only the local part counts (the domain is shared by colleagues and often public).
func splitContext(s string) []string {
	s = strings.ToLower(s)
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		s = s[:at]
	}
	var words []string
	if len(s) >= 4 {
		words = append(words, s)
	}
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) >= 4 && w != s {
			words = append(words, w)
		}
	}
	return words
}

// deleet undoes the usual letter-for-symbol substitutions (p@ssw0rd), which add no strength.
func deleet(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '@', '4':
			return 'a'
		case '0':
			return 'o'
		case '1', '!':
			return 'i'
		case '3':
			return 'e'
		case '$', '5':
			return 's'
		case '7':
			return 't'
		}
		return r
	}, s)
}

// isRepetitive reports strings of at most three distinct characters, a short block repeated
// (abcabcabcabc), or a run of consecutive characters (abcdefghijkl, 987654321098).
func isRepetitive(s string) bool {
	rs := []rune(s)
	distinct := map[rune]struct{}{}
	for _, r := range rs {
		distinct[r] = struct{}{}
	}
	if len(distinct) <= 3 {
		return true
	}
	for block := 1; block <= len(rs)/2; block++ {
		if len(rs)%block != 0 {
			continue
		}
		repeated := true
		for i := block; i < len(rs); i++ {
			if rs[i] != rs[i-block] {
				repeated = false
				break
			}
		}
		if repeated {
			return true
		}
	}
	step := func(a, b rune) rune {
		if unicode.IsDigit(a) && unicode.IsDigit(b) {
			return ((b-a)%10 + 10) % 10 // 9 then 0 continues 7890
		}
		return b - a
	}
	d := step(rs[0], rs[1])
	if d != 1 && d != -1 && d != 9 {
		return false
	}
	for i := 2; i < len(rs); i++ {
		if step(rs[i-1], rs[i]) != d {
			return false
		}
	}
	return true
}
