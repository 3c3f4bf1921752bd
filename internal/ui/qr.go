package ui

import (
	"bufio"
	"fmt"
	"io"

	qrcode "github.com/skip2/go-qrcode"
)

// WriteQR draws text as a QR code for a terminal, light modules in the terminal's foreground
// colour on its background (dark terminals are the common case; scanners read the inverse of
// a light terminal too). With unicode, two rows of modules share a line through half blocks;
// without (a console that cannot show them), each module is two '#' or two spaces.
func WriteQR(w io.Writer, text string, unicode bool) error {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	bits := q.Bitmap() // true: a dark module; the quiet zone is included
	bw := bufio.NewWriter(w)
	light := func(row, col int) bool { return row < len(bits) && !bits[row][col] }
	if !unicode {
		for r := range bits {
			for c := range bits[r] {
				if light(r, c) {
					bw.WriteString("##")
				} else {
					bw.WriteString("  ")
				}
			}
			bw.WriteByte('\n')
		}
		return bw.Flush()
	}
	for r := 0; r < len(bits); r += 2 {
		for c := range bits[r] {
			top, bottom := light(r, c), light(r+1, c)
			switch {
			case top && bottom:
				bw.WriteString("█")
			case top:
				bw.WriteString("▀")
			case bottom:
				bw.WriteString("▄")
			default:
				bw.WriteByte(' ')
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
