package main

import (
	"bytes"
	"io"
)

// lineWriter passes everything to out and each complete line to fn, so a step can react to
// what a command prints while it runs.
type lineWriter struct {
	out  io.Writer
	fn   func(line string)
	part []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n, err := w.out.Write(p)
	w.part = append(w.part, p[:n]...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		w.fn(string(w.part[:i]))
		w.part = w.part[i+1:]
	}
	return n, err
}
