// Command smartx is the toolkit for installing and running Smart X energy-metering devices.
package main

import (
	"os"

	"github.com/smart-impulse/smartx/internal/commands"
)

func main() {
	os.Exit(commands.Execute())
}
