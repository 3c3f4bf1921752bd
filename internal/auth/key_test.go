package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/sqlite"
)

func mustKey(t testing.TB) Key {
	t.Helper()
	k, err := NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	key, other := mustKey(t), mustKey(t)
	sealed, err := Seal(key, []byte("device key"), []byte("acc_a"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(key, sealed, []byte("acc_a"))
	if err != nil || string(got) != "device key" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name   string
		key    Key
		sealed []byte
		ad     string
	}{
		{"wrong key", other, sealed, "acc_a"},
		{"moved to another account", key, sealed, "acc_b"},
		{"tampered", key, flipped, "acc_a"},
		{"truncated", key, sealed[:10], "acc_a"},
		{"empty", key, nil, "acc_a"},
		{"unknown version", key, append([]byte{9}, sealed[1:]...), "acc_a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(tt.key, tt.sealed, []byte(tt.ad)); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestKeysNeverPrint(t *testing.T) {
	k := mustKey(t)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "k", k)
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%s %v %+v %#v", k, k, k, k), logged.String()} {
		if strings.Contains(out, k.Hex()) || strings.Contains(out, fmt.Sprint([32]byte(k))) || !strings.Contains(out, "[redacted]") {
			t.Fatalf("key printed as %q", out)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k := mustKey(t)
	if err := WriteKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(path, mustKey(t)); err == nil {
		t.Fatal("WriteKeyFile overwrote an existing key")
	}
	got, tooOpen, err := ReadKeyFile(path)
	if err != nil || got != k || tooOpen {
		t.Fatalf("ReadKeyFile = %v, %v, %v", got == k, tooOpen, err)
	}
	if runtime.GOOS != "windows" { // a mode means nothing there: the access list counts
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, tooOpen, _ = ReadKeyFile(path); !tooOpen {
			t.Fatal("a world-readable key file was not reported")
		}
	}
	// What editors save: Notepad's "UTF-8 with BOM" and CRLF, trailing blanks.
	for name, content := range map[string]string{"bom-crlf": "\xEF\xBB\xBF" + k.Hex() + "\r\n", "blanks": "  " + k.Hex() + " \t\n\n"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if got, _, err := ReadKeyFile(p); err != nil || got != k {
			t.Errorf("ReadKeyFile(%s) = %v, %v; want the key", name, got == k, err)
		}
	}
	for name, content := range map[string]string{"short": "abcd", "not hex": strings.Repeat("zz", 32)} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if _, _, err := ReadKeyFile(p); err == nil {
			t.Errorf("ReadKeyFile accepted a %s key", name)
		}
	}
}

// testEnv is a keyring and token service over a fresh SQLite store, with an adjustable clock.
type testEnv struct {
	st     *sqlite.Store
	keys   *Keyring
	tokens *TokenService
	now    time.Time
	acc    store.Account
	user   store.User
}

func (e *testEnv) clock() time.Time { return e.now }

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	return newTestEnvAt(t, filepath.Join(t.TempDir(), "smartx.db"), mustKey(t))
}

func newTestEnvAt(t testing.TB, path string, master Key) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &testEnv{st: st, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e.keys = NewKeyring(master, st, rand.Reader, e.clock)
	if err := e.keys.CheckMaster(ctx); err != nil {
		t.Fatal(err)
	}
	e.tokens = NewTokenService(e.keys, st, rand.Reader, e.clock)
	e.acc, e.user = e.newAccount(t, "owner@example.com")
	return e
}

func (e *testEnv) newAccount(t testing.TB, email string) (store.Account, store.User) {
	t.Helper()
	ctx := context.Background()
	id, _ := store.NewID("acc_", rand.Reader)
	dk, err := e.keys.NewDataKey(id)
	if err != nil {
		t.Fatal(err)
	}
	acc := store.Account{ID: id, SealedName: []byte("sealed"), DataKey: dk, CreatedAt: e.now}
	if err := e.st.CreateAccount(ctx, acc); err != nil {
		t.Fatal(err)
	}
	return acc, e.newUser(t, acc, email)
}

func (e *testEnv) newUser(t testing.TB, acc store.Account, email string) store.User {
	t.Helper()
	uid, _ := store.NewID("usr_", rand.Reader)
	u := store.User{ID: uid, AccountID: acc.ID, EmailIndex: e.keys.PlatformIndex("email", email), SealedEmail: []byte("sealed"),
		Role: "owner", PasswordHash: "x", CreatedAt: e.now, UpdatedAt: e.now}
	if err := e.st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestKeyringWrapsPerAccount(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	other, _ := e.newAccount(t, "other@example.com")
	dkA, err := e.keys.DataKey(ctx, e.acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	dkB, _ := e.keys.DataKey(ctx, other.ID)
	if dkA == dkB {
		t.Fatal("two accounts share a data key")
	}
	// A wrapped data key copied onto another account does not open there.
	if _, err := Open(e.keys.master, e.acc.DataKey, []byte(adDataKey+other.ID)); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("account A's wrapped key opened as B's: %v", err)
	}
	sealed, err := e.keys.SealForAccount(ctx, e.acc.ID, "device-key", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.keys.OpenForAccount(ctx, e.acc.ID, "device-key", sealed); err != nil || string(got) != "secret" {
		t.Fatalf("OpenForAccount = %q, %v", got, err)
	}
	for name, try := range map[string]func() error{
		"another account": func() error { _, err := e.keys.OpenForAccount(ctx, other.ID, "device-key", sealed); return err },
		"another purpose": func() error { _, err := e.keys.OpenForAccount(ctx, e.acc.ID, "upload-credential", sealed); return err },
	} {
		if err := try(); !errors.Is(err, ErrDecrypt) {
			t.Errorf("opened under %s: %v", name, err)
		}
	}
}

func TestKeyringRotation(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	kid1, key1, err := e.keys.CurrentTokenKey(ctx, e.acc.ID, e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	kid2, err := e.keys.RotateTokenKey(ctx, e.acc.ID, e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur, key2, _ := e.keys.CurrentTokenKey(ctx, e.acc.ID, e.user.ID)
	if cur != kid2 || kid1 == kid2 || key1 == key2 {
		t.Fatal("rotation did not make a new current key")
	}
	e.keys.Forget()
	acc, user, key, err := e.keys.TokenKey(ctx, kid1)
	if err != nil || acc != e.acc.ID || user != e.user.ID || key != key1 {
		t.Fatalf("old key after rotation and Forget: %v", err)
	}
}

// Two users of one account never share a token key, and a user's wrapped key does not open
// as a colleague's.
func TestTokenKeysArePerUser(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	colleague := e.newUser(t, e.acc, "colleague@example.com")
	kidA, keyA, err := e.keys.CurrentTokenKey(ctx, e.acc.ID, e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	kidB, keyB, err := e.keys.CurrentTokenKey(ctx, e.acc.ID, colleague.ID)
	if err != nil {
		t.Fatal(err)
	}
	if kidA == kidB || keyA == keyB {
		t.Fatal("two users of one account share a token key")
	}
	tk, err := e.st.TokenKey(ctx, kidA)
	if err != nil {
		t.Fatal(err)
	}
	tk.UserID = colleague.ID
	if _, err := e.keys.unwrapTokenKey(ctx, tk); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a user's wrapped token key opened as a colleague's: %v", err)
	}
}

func TestBlindIndexes(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	other, _ := e.newAccount(t, "other@example.com")
	a1, _ := e.keys.IndexForAccount(ctx, e.acc.ID, "serial", "SX-00042")
	a2, _ := e.keys.IndexForAccount(ctx, e.acc.ID, "serial", "SX-00042")
	b, _ := e.keys.IndexForAccount(ctx, other.ID, "serial", "SX-00042")
	p, _ := e.keys.IndexForAccount(ctx, e.acc.ID, "site-name", "SX-00042")
	if !bytes.Equal(a1, a2) || len(a1) != IndexSize {
		t.Fatalf("the same value has indexes %x and %x", a1, a2)
	}
	if bytes.Equal(a1, b) || bytes.Equal(a1, p) {
		t.Fatal("an index is shared across accounts or purposes")
	}
	if bytes.Contains(a1, []byte("SX")) {
		t.Fatal("the index shows the value")
	}
	e.keys.Forget()
	if again, _ := e.keys.IndexForAccount(ctx, e.acc.ID, "serial", "SX-00042"); !bytes.Equal(again, a1) {
		t.Fatal("an index changed after the keys were reloaded")
	}
	if !bytes.Equal(e.keys.PlatformIndex("email", "a@example.com"), e.keys.PlatformIndex("email", "a@example.com")) ||
		bytes.Equal(e.keys.PlatformIndex("email", "a@example.com"), e.keys.PlatformIndex("email", "b@example.com")) {
		t.Fatal("platform indexes are not a function of the value")
	}
	other2 := NewKeyring(mustKey(t), e.st, rand.Reader, time.Now)
	if bytes.Equal(other2.PlatformIndex("email", "a@example.com"), e.keys.PlatformIndex("email", "a@example.com")) {
		t.Fatal("two master keys give the same platform index")
	}
	sealed, err := e.keys.SealForPlatform("audit-source", []byte("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.keys.OpenForPlatform("audit-source", sealed); err != nil || string(got) != "192.0.2.1" {
		t.Fatalf("OpenForPlatform = %q, %v", got, err)
	}
	if _, err := other2.OpenForPlatform("audit-source", sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("opened under another master key: %v", err)
	}
}

func TestWrongMasterKeyIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smartx.db")
	newTestEnvAt(t, path, mustKey(t))
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = NewKeyring(mustKey(t), st, rand.Reader, time.Now).CheckMaster(context.Background())
	if !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("CheckMaster with another key = %v", err)
	}
}

func FuzzParseKeyHex(f *testing.F) {
	f.Add(strings.Repeat("0f", 32))
	f.Add(" " + strings.Repeat("AB", 32) + "\n")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKeyHex(s)
		if err == nil && !strings.EqualFold(k.Hex(), strings.TrimSpace(s)) {
			t.Fatalf("ParseKeyHex(%q) = %s", s, k.Hex())
		}
	})
}
