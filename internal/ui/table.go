package ui

import (
	"bytes"
	"io"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Table collects rows and renders them as aligned columns without borders, in the manner of
// `kubectl get` or `gh ... list`: easy to read on a terminal and stable when piped.
type Table struct {
	w      io.Writer
	st     *Styles
	header []string
	rows   [][]string
	width  int          // the terminal's width; 0: no limit (piped)
	whole  map[int]bool // columns never truncated (ids people copy)
}

// NewTable returns a table writing to w with the given column headers (rendered upper case).
func NewTable(w io.Writer, st *Styles, header ...string) *Table {
	return &Table{w: w, st: st, header: header}
}

// Row appends one row; cells may already carry styles.
func (t *Table) Row(cells ...string) { t.rows = append(t.rows, cells) }

// SetWidth makes the table fit in width columns of a terminal: when the cells are wider, the
// widest columns are truncated with an ellipsis, each getting an equal share of what the
// narrower ones leave (as gh does). 0 means no limit.
func (t *Table) SetWidth(width int) { t.width = width }

// KeepWhole marks columns (by index) that are never truncated, such as ids people copy.
func (t *Table) KeepWhole(cols ...int) {
	if t.whole == nil {
		t.whole = map[int]bool{}
	}
	for _, c := range cols {
		t.whole[c] = true
	}
}

// Len returns the number of rows added so far.
func (t *Table) Len() int { return len(t.rows) }

// Render writes the table, without the trailing blanks column padding leaves.
func (t *Table) Render() error {
	var buf bytes.Buffer
	tbl := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Header: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "  ", Overwrite: true}},
			},
			Row: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "  ", Overwrite: true}},
			},
		}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	header := make([]string, len(t.header))
	for i, name := range t.header {
		header[i] = t.st.Bold(HeaderText(name))
	}
	header, rows := t.fit(header, t.rows)
	if len(header) > 0 {
		h := make([]any, len(header))
		for i, name := range header {
			h[i] = name
		}
		tbl.Header(h...)
	}
	for _, r := range rows {
		if err := tbl.Append(r); err != nil {
			return err
		}
	}
	if err := tbl.Render(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		trimmed := strings.TrimRight(line, " \n")
		if strings.HasSuffix(line, "\n") {
			trimmed += "\n"
		}
		if _, err := io.WriteString(t.w, trimmed); err != nil {
			return err
		}
	}
	return nil
}

// HeaderText is a column title as tables print it: upper case, but for a unit in brackets,
// which keeps its case ("ENERGY [Wh]", not "ENERGY [WH]").
func HeaderText(name string) string {
	if i := strings.IndexByte(name, '['); i >= 0 {
		return strings.ToUpper(name[:i]) + name[i:]
	}
	return strings.ToUpper(name)
}

// columnGap is the blank between two columns.
const columnGap = 2

// minColumn is the narrowest a truncated column gets: a few letters and the ellipsis.
const minColumn = 4

// fit truncates cells so the table is at most t.width wide: the columns narrower than an equal
// share of the room keep their width, the wider ones share what is left (water-filling).
func (t *Table) fit(header []string, rows [][]string) ([]string, [][]string) {
	n := len(header)
	for _, r := range rows {
		n = max(n, len(r))
	}
	if t.width <= 0 || n == 0 {
		return header, rows
	}
	widths := make([]int, n)
	measure := func(cells []string) {
		for i, c := range cells {
			widths[i] = max(widths[i], ansi.StringWidth(c))
		}
	}
	measure(header)
	for _, r := range rows {
		measure(r)
	}
	total := columnGap * (n - 1)
	for _, w := range widths {
		total += w
	}
	if total <= t.width {
		return header, rows
	}
	room := t.width - columnGap*(n-1)
	var flexible []int
	for i, w := range widths {
		if t.whole[i] {
			room -= w
		} else {
			flexible = append(flexible, i)
		}
	}
	slices.SortStableFunc(flexible, func(a, b int) int { return widths[a] - widths[b] })
	limit := slices.Clone(widths)
	for k, i := range flexible {
		share := max(room/(len(flexible)-k), minColumn)
		limit[i] = min(widths[i], share)
		room -= limit[i]
	}
	cut := func(cells []string) []string {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = c
			if ansi.StringWidth(c) > limit[i] {
				out[i] = ansi.Truncate(c, limit[i], "…")
			}
		}
		return out
	}
	fitted := make([][]string, len(rows))
	for i, r := range rows {
		fitted[i] = cut(r)
	}
	return cut(header), fitted
}
