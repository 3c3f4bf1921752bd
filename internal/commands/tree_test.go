package commands

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/ui"
)

// Every command a user can run shows at least one example in its help (and so in the
// reference docs/commands and the man pages): people copy examples before they read flags.
func TestEveryCommandHasAnExample(t *testing.T) {
	io, _, _, _ := ui.Test()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && !c.Hidden && c.Deprecated == "" && c.Annotations[groupAnnotation] == "" && c.Example == "" {
			t.Errorf("%s has no Example: add one to its cobra.Command", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(NewFactory(io)))
}
