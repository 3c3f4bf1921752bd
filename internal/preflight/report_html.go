package preflight

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed report.html.tmpl
var reportHTMLSource string

// reportHTML is parsed once; templates are safe for concurrent use. Its fixed text goes
// through tr, bound to the report's language when it is written.
var reportHTML = template.Must(template.New("report").Funcs(template.FuncMap{
	"tr": func(s string) string { return s },
}).Parse(reportHTMLSource))

// WriteHTML writes the IT report as one self-contained HTML page (inline CSS, no scripts, no
// external resources), in opts.Lang, with the same content as WriteMarkdown. html/template
// escapes every value.
func WriteHTML(w io.Writer, r Report, opts ReportOptions) error {
	v := buildReportView(r, opts)
	t, err := reportHTML.Clone()
	if err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	t.Funcs(template.FuncMap{"tr": v.Lang.T})
	if err := t.Execute(w, v); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}
