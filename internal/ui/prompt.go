package ui

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/smart-impulse/smartx/internal/secretfile"
)

// ErrNoTerminal is returned when a question needs a terminal and there is none.
var ErrNoTerminal = errors.New("no terminal to ask the question")

// Prompt asks for one line on the terminal; the question goes to ErrOut.
func (s *IOStreams) Prompt(question string) (string, error) {
	if !s.CanPrompt() {
		return "", ErrNoTerminal
	}
	fmt.Fprintf(s.ErrOut, "%s: ", question)
	line, err := s.readLine()
	return strings.TrimSpace(line), err
}

// PromptSecret asks for a secret without echoing it.
func (s *IOStreams) PromptSecret(question string) (string, error) {
	if !s.CanPrompt() {
		return "", ErrNoTerminal
	}
	fmt.Fprintf(s.ErrOut, "%s: ", question)
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.ErrOut)
		return string(b), err
	}
	line, err := s.readLine()
	return strings.TrimRight(line, "\r\n"), err
}

// Confirm asks a yes/no question; anything but y or yes is no.
func (s *IOStreams) Confirm(question string) (bool, error) {
	answer, err := s.Prompt(question + " [y/N]")
	if err != nil {
		return false, err
	}
	switch strings.ToLower(answer) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// ReadSecretLine reads one line from standard input (--password-stdin, --with-token): the
// secret never appears in the process list or the shell history. What files and shells add
// around it (a byte-order mark, CRLF, surrounding spaces) is dropped, as for every secret file
// (secretfile.Text).
func (s *IOStreams) ReadSecretLine() (string, error) {
	line, err := s.readLine()
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("standard input is empty")
		}
		return "", err
	}
	secret := secretfile.Text([]byte(line))
	if secret == "" {
		return "", errors.New("standard input holds nothing but blanks")
	}
	return secret, nil
}

func (s *IOStreams) readLine() (string, error) {
	if s.inReader == nil {
		s.inReader = bufio.NewReader(s.In)
	}
	return s.inReader.ReadString('\n')
}
