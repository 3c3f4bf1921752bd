package preflight

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Lang is the language the IT report is written in.
type Lang string

// The report's languages.
const (
	// LangEN is English, the language of the checks and of the JSON.
	LangEN Lang = "en"
	// LangFR is French, the language of the vendor's statement the flows come from.
	LangFR Lang = "fr"
)

// Langs returns the languages a report can be written in.
func Langs() []Lang { return []Lang{LangEN, LangFR} }

// ParseLang accepts en or fr (any case); empty means English.
func ParseLang(s string) (Lang, error) {
	switch l := Lang(strings.ToLower(strings.TrimSpace(s))); l {
	case "":
		return LangEN, nil
	case LangEN, LangFR:
		return l, nil
	}
	return "", fmt.Errorf("language %q: want en or fr", s)
}

// T translates an English text of the report (a label, a check's summary, hint, rule or
// note) into l. Texts are matched against the catalogue: exactly, or as the fmt format they
// were built with, whose values are put into the translation (and translated in turn when
// they are texts themselves). A text the catalogue does not know is returned as is: the
// report stays complete, in English where a translation is missing.
func (l Lang) T(s string) string {
	out, _ := l.lookup(s)
	return out
}

// Tf formats an English catalogue format with args and translates the result.
func (l Lang) Tf(format string, args ...any) string { return l.T(fmt.Sprintf(format, args...)) }

// lookup translates s and reports whether the catalogue knew it.
func (l Lang) lookup(s string) (string, bool) {
	if l == LangEN || l == "" || s == "" {
		return s, true
	}
	tr := translators()[l]
	if tr == nil {
		return s, false
	}
	return tr.translate(s, 0)
}

// translator holds one language's catalogue, compiled.
type translator struct {
	exact    map[string]string
	patterns []pattern
}

// pattern is a catalogue entry holding fmt verbs: a regular expression capturing the values,
// and the translated format they go into.
type pattern struct {
	re       *regexp.Regexp
	verbs    []byte // the verb of each value, in order: s, d, q, f
	to       string
	literals int  // length of the fixed text, so the most specific entry is tried first
	joiner   bool // the fixed text is punctuation only ("%s; %s"): known only when its parts are
}

// maxTranslateDepth bounds the translation of values inside values.
const maxTranslateDepth = 4

func (t *translator) translate(s string, depth int) (string, bool) {
	if out, ok := t.exact[s]; ok {
		return out, true
	}
	if depth >= maxTranslateDepth {
		return s, false
	}
	for _, p := range t.patterns {
		m := p.re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		args := m[1:]
		known := true
		for i, a := range args {
			if p.verbs[i] == 's' {
				var ok bool
				args[i], ok = t.translate(a, depth+1)
				known = known && ok
			}
		}
		return fillFormat(p.to, args), known || !p.joiner
	}
	return s, false
}

// translators compiles the catalogue once.
var translators = sync.OnceValue(func() map[Lang]*translator {
	fr := &translator{exact: map[string]string{}}
	for _, m := range catalogue {
		if !strings.Contains(strings.ReplaceAll(m.en, "%%", ""), "%") {
			fr.exact[m.en] = m.fr
			continue
		}
		re, verbs, literals, letters := formatPattern(m.en)
		fr.patterns = append(fr.patterns, pattern{re: re, verbs: verbs, to: m.fr, literals: literals, joiner: !letters})
	}
	slices.SortStableFunc(fr.patterns, func(a, b pattern) int { return b.literals - a.literals })
	return map[Lang]*translator{LangFR: fr}
})

// formatPattern turns an fmt format (%s, %d, %q, %.Nf, %%) into an anchored regular
// expression capturing each value; it also counts the fixed text and says whether it holds
// a letter.
func formatPattern(format string) (re *regexp.Regexp, verbs []byte, literals int, letters bool) {
	var b, lit strings.Builder
	flush := func() {
		text := lit.String()
		b.WriteString(regexp.QuoteMeta(text))
		literals += len(text)
		letters = letters || strings.IndexFunc(text, unicode.IsLetter) >= 0
		lit.Reset()
	}
	b.WriteString("^")
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			lit.WriteByte(c)
			continue
		}
		i++
		if format[i] == '%' {
			lit.WriteByte('%')
			continue
		}
		flush()
		switch v := format[i]; {
		case v == 's' || v == 'v':
			b.WriteString("(.+?)")
			verbs = append(verbs, 's')
		case v == 'd':
			b.WriteString(`(-?\d+)`)
			verbs = append(verbs, 'd')
		case v == 'q':
			b.WriteString(`("(?:[^"\\]|\\.)*")`)
			verbs = append(verbs, 'q')
		case v == '.' && i+2 < len(format) && format[i+2] == 'f':
			b.WriteString(`(-?\d+(?:\.\d+)?)`)
			verbs = append(verbs, 'f')
			i += 2
		default:
			panic("preflight catalogue: unsupported verb in " + strconv.Quote(format))
		}
	}
	flush()
	b.WriteString("$")
	return regexp.MustCompile(b.String()), verbs, literals, letters
}

// fillFormat puts the values into a translated format: each verb takes the next value, or
// the one it names (%[2]s) when the translation reorders them; %% is a percent sign.
func fillFormat(format string, args []string) string {
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		n := next
		if format[i] == '[' {
			end := strings.IndexByte(format[i:], ']')
			if k, err := strconv.Atoi(format[i+1 : i+end]); err == nil && end > 0 {
				n = k - 1
				i += end + 1
			}
		} else {
			next++
		}
		if format[i] == '.' { // %.1f: skip the precision, the value is already written
			i += 2
		}
		if n >= 0 && n < len(args) {
			b.WriteString(args[n])
		}
	}
	return b.String()
}
