package errtext

import (
	"errors"
	"fmt"
	"testing"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"unix text unchanged", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), "dial tcp 127.0.0.1:1: connect: connection refused"},
		{"windows sentence loses its period",
			errors.New("dial tcp 127.0.0.1:1: connectex: No connection could be made because the target machine actively refused it."),
			"dial tcp 127.0.0.1:1: connectex: No connection could be made because the target machine actively refused it"},
		{"windows message with a line break", errors.New("open x: The system cannot find the file specified.\r\n"), "open x: The system cannot find the file specified"},
		{"inner line breaks folded", errors.New("first line\r\nsecond line."), "first line second line"},
		{"wrapped", fmt.Errorf("read key: %w", errors.New("Access is denied.")), "read key: Access is denied"},
		{"trailing spaces", errors.New("boom . "), "boom"},
		{"version numbers inside kept", errors.New("needs TLS 1.2 or later"), "needs TLS 1.2 or later"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.err); got != tt.want {
				t.Errorf("Of(%q) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// The sentence the issue quotes reads right once the cause goes through Of.
func TestEmbeddedSentence(t *testing.T) {
	cause := errors.New("connectex: Connection refused.")
	got := fmt.Sprintf("cannot reach %s: %s: is the server running", "https://x", Of(cause))
	if want := "cannot reach https://x: connectex: Connection refused: is the server running"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
