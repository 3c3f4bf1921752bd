package preflight

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

var verbPattern = regexp.MustCompile(`%(\[\d+\])?(\.\d)?[sdqfv]`)

// TestCatalogueEntries holds every entry to the rules the translator relies on: one entry per
// English text, the same values on both sides, and each entry reachable (no other entry
// takes its texts first).
func TestCatalogueEntries(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range catalogue {
		if seen[m.en] {
			t.Errorf("%q is in the catalogue twice", m.en)
		}
		seen[m.en] = true
		if m.fr == "" {
			t.Errorf("%q has an empty translation", m.en)
		}
		enVerbs := verbPattern.FindAllString(strings.ReplaceAll(m.en, "%%", ""), -1)
		frVerbs := verbPattern.FindAllString(strings.ReplaceAll(m.fr, "%%", ""), -1)
		if len(enVerbs) != len(frVerbs) {
			t.Errorf("%q has %d values, its French %q has %d", m.en, len(enVerbs), m.fr, len(frVerbs))
			continue
		}
		if len(enVerbs) == 0 {
			continue
		}
		// Format the English with sample values: the French must come back with them.
		var args []any
		var want []string
		for i, v := range enVerbs {
			switch v[len(v)-1] {
			case 'd':
				args = append(args, 70+i)
				want = append(want, fmt.Sprint(70+i))
			case 'q':
				args = append(args, fmt.Sprintf("q%d", i))
				want = append(want, fmt.Sprintf("%q", fmt.Sprintf("q%d", i)))
			case 'f':
				args = append(args, 1.5+float64(i))
				want = append(want, fmt.Sprintf(v, 1.5+float64(i)))
			default:
				args = append(args, fmt.Sprintf("v%d", i))
				want = append(want, fmt.Sprintf("v%d", i))
			}
		}
		got, known := LangFR.lookup(fmt.Sprintf(m.en, args...))
		joiner := strings.IndexFunc(verbPattern.ReplaceAllString(m.en, ""), unicode.IsLetter) < 0
		if wantText := fillFormat(m.fr, want); got != wantText || !known && !joiner {
			t.Errorf("%q: translated to %q (known %v), want %q: another entry takes it first, or the values do not match", m.en, got, known, wantText)
		}
	}
}

func TestTranslate(t *testing.T) {
	tests := []struct{ en, fr string }{
		{"Local network", "Réseau local"},
		{"connection to 127.0.0.1:1 refused", "connexion à 127.0.0.1:1 refusée"},
		// values that are texts are translated in turn
		{"not run: needs tcp-https, which did not pass (fail)", "non exécutée : nécessite tcp-https, qui n'a pas réussi (échec)"},
		{"connected to platform.test:443 (127.0.0.1), but connection to 127.0.0.1:443 refused",
			"connecté à platform.test:443 (127.0.0.1), mais connexion à 127.0.0.1:443 refusée"},
		{"allow UDP and TCP from <device> to the site's DNS servers port 53", "autoriser UDP et TCP depuis <appareil> vers les serveurs DNS du site port 53"},
		// the most specific entry wins
		{"platform.test -> 127.0.0.1 in 1ms (expected 127.0.0.2)", "platform.test -> 127.0.0.1 en 1ms (attendu : 127.0.0.2)"},
		{"platform.test -> 127.0.0.1 in 1ms", "platform.test -> 127.0.0.1 en 1ms"},
		// a value the French reorders or formats
		{"3/4 replies from 8.8.8.8 (25% loss), rtt avg 10.2 ms", "3/4 réponses de 8.8.8.8 (25 % de pertes), aller-retour moyen 10.2 ms"},
		// unknown text stays as it is
		{"something new", "something new"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := LangFR.T(tt.en); got != tt.fr {
			t.Errorf("T(%q) = %q, want %q", tt.en, got, tt.fr)
		}
		if got := LangEN.T(tt.en); got != tt.en {
			t.Errorf("English T(%q) = %q", tt.en, got)
		}
	}
	// A joiner of unknown parts is not counted as known, though it is translated.
	if _, known := LangFR.lookup("x is odd; y is even"); known {
		t.Error("two unknown texts joined by ; count as known")
	}
}

// TestCatalogueCoversTheDocument: every fixed text of the report has its French.
func TestCatalogueCoversTheDocument(t *testing.T) {
	var texts []string
	for _, c := range Checks() {
		texts = append(texts, c.Title, c.Group)
	}
	cfg := DefaultConfig()
	cfg.Profile = ProfileAll
	for _, f := range Rules(cfg) {
		texts = append(texts, f.Protocol, f.Purpose, f.Rule())
		if _, err := netip.ParseAddr(f.Destination); err != nil && f.Destination != "" {
			texts = append(texts, f.Destination)
		}
	}
	cfg.Proxy = "http://proxy.example:3128"
	for _, f := range Rules(cfg) {
		texts = append(texts, f.Purpose)
	}
	for _, s := range []Status{StatusOK, StatusWarn, StatusFail, StatusSkip, StatusError} {
		texts = append(texts, statusLabel(LangEN, s))
	}
	for _, p := range Profiles() {
		texts = append(texts, string(p))
	}
	for _, w := range settingWords {
		texts = append(texts, w)
	}
	texts = append(texts, formFields[:]...)
	for _, l := range evidenceLabels {
		texts = append(texts, l)
	}
	for _, l := range metricLabels {
		texts = append(texts, l.label)
	}
	for _, goos := range []string{"linux", "darwin", "windows", "plan9"} {
		texts = append(texts, icmpPrivilegeHint(goos))
		for _, kind := range []failureKind{failPermission, failNoRoute, failLocal} {
			summary, hint := laptopFailure(kind, errors.New("boom"), "the connection to platform.example:443", goos)
			texts = append(texts, summary, hint)
		}
	}
	for _, text := range texts {
		if _, known := LangFR.lookup(text); !known {
			t.Errorf("%q has no French in the catalogue", text)
		}
	}
}

func TestParseLang(t *testing.T) {
	for in, want := range map[string]Lang{"": LangEN, "en": LangEN, "FR": LangFR, " fr ": LangFR} {
		if got, err := ParseLang(in); err != nil || got != want {
			t.Errorf("ParseLang(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseLang("de"); err == nil || !strings.Contains(err.Error(), "want en or fr") {
		t.Errorf("ParseLang(de) error = %v", err)
	}
}
