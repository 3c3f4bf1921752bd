//go:build linux || freebsd || openbsd || netbsd || dragonfly

package config

import (
	"errors"
	"os"
	"strconv"
)

// keyringReachable tells whether the Secret Service can be reached: it lives on the D-Bus
// session bus. Without a session address or the standard socket, go-keyring's D-Bus library
// would try to start a bus with dbus-launch, leaving a daemon behind: say instead there is
// no credential store (CI, containers, SSH sessions).
func keyringReachable(getenv func(string) string) error {
	if getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return nil
	}
	if _, err := os.Stat("/run/user/" + strconv.Itoa(os.Getuid()) + "/bus"); err == nil {
		return nil
	}
	return errors.New("no D-Bus session to reach the Secret Service")
}
