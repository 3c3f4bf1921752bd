package preflight

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed report.html.tmpl
var reportHTMLSource string

// reportHTML is parsed once; templates are safe for concurrent use.
var reportHTML = template.Must(template.New("report").Funcs(template.FuncMap{
	"statusLabel": statusLabel,
}).Parse(reportHTMLSource))

// WriteHTML writes the IT report as one self-contained HTML page (inline
// CSS, no scripts, no external resources), with the same content as
// WriteMarkdown. html/template escapes every value.
func WriteHTML(w io.Writer, r Report, meta ReportMeta) error {
	if err := reportHTML.Execute(w, buildReportView(r, meta)); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}
