package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/smart-impulse/smartx/internal/auth"
)

func readAll(resp *http.Response) ([]byte, error) { return io.ReadAll(resp.Body) }

func asError[T error](err error, target *T) bool { return errors.As(err, target) }

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// masterOf reads the master key the test server generated in its data directory.
func masterOf(t testing.TB, ts *testServer) auth.Key {
	t.Helper()
	k, _, err := auth.ReadKeyFile(ts.dir + "/" + MasterKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
