package ui

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Braille dots of one cell, by [column][row] (Unicode braille patterns, 2 columns × 4 rows).
var brailleDots = [2][4]rune{{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}}

// LineChart draws values as a line in width × height terminal cells of braille dots (each cell
// is 2 × 4 dots), scaled between lo and hi. NaN values leave a hole. It returns height lines.
func LineChart(values []float64, lo, hi float64, width, height int) []string {
	width, height = max(width, 1), max(height, 1)
	cols, rows := width*2, height*4
	grid := make([][]rune, height)
	for i := range grid {
		grid[i] = make([]rune, width)
	}
	y := func(v float64) int {
		if hi <= lo {
			return rows / 2
		}
		r := int(math.Round((v - lo) / (hi - lo) * float64(rows-1)))
		return rows - 1 - min(max(r, 0), rows-1)
	}
	set := func(x, yy int) { grid[yy/4][x/2] |= brailleDots[x%2][yy%4] }
	prev := -1
	for x := range cols {
		v := sample(values, x, cols)
		if math.IsNaN(v) {
			prev = -1
			continue
		}
		cur := y(v)
		if prev < 0 {
			set(x, cur)
		} else {
			// Join the previous point vertically so steep changes stay a line.
			step := 1
			if cur < prev {
				step = -1
			}
			for yy := prev; yy != cur+step; yy += step {
				set(x, yy)
			}
		}
		prev = cur
	}
	lines := make([]string, height)
	for i, row := range grid {
		var b strings.Builder
		for _, dots := range row {
			if dots == 0 {
				b.WriteRune(' ')
			} else {
				b.WriteRune(0x2800 + dots)
			}
		}
		lines[i] = b.String()
	}
	return lines
}

// sample returns the mean of the values that fall in column x of cols (NaN when none).
func sample(values []float64, x, cols int) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	from := x * len(values) / cols
	to := max((x+1)*len(values)/cols, from+1)
	sum, n := 0.0, 0
	for _, v := range values[from:min(to, len(values))] {
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Plot is one titled chart with its axes' labels.
type Plot struct {
	Title         string
	Values        []float64
	Unit          string
	XStart, XEnd  string // labels under the left and right ends
	Width, Height int    // of the drawing area, in cells
	FormatY       func(float64) string
}

// axisLabel writes a value of the y axis without an exponent: 80340, 230.4, 0.0125.
func axisLabel(v float64) string {
	if math.Abs(v) >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// RenderPlot writes p with the y range on the left and the x labels underneath.
func RenderPlot(w io.Writer, st *Styles, p Plot) error {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range p.Values {
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	format := p.FormatY
	if format == nil {
		format = axisLabel
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", st.Bold(p.Title))
	if math.IsInf(lo, 1) {
		b.WriteString(st.Muted("  no readings\n"))
		_, err := io.WriteString(w, b.String())
		return err
	}
	top, bottom := format(hi)+" "+p.Unit, format(lo)+" "+p.Unit
	labelW := max(utf8.RuneCountInString(top), utf8.RuneCountInString(bottom))
	for i, line := range LineChart(p.Values, lo, hi, p.Width, p.Height) {
		label := ""
		switch i {
		case 0:
			label = top
		case p.Height - 1:
			label = bottom
		}
		fmt.Fprintf(&b, "%*s ┤%s\n", labelW, label, st.Accent(line))
	}
	pad := strings.Repeat(" ", labelW+2)
	gap := max(p.Width-utf8.RuneCountInString(p.XStart)-utf8.RuneCountInString(p.XEnd), 1)
	fmt.Fprintf(&b, "%s%s%s%s\n", pad, st.Muted(p.XStart), strings.Repeat(" ", gap), st.Muted(p.XEnd))
	_, err := io.WriteString(w, b.String())
	return err
}
