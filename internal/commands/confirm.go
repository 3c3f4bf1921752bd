package commands

import "fmt"

// confirmChange asks question on a terminal before a change that cannot be undone; yes skips
// it, and without a terminal --yes is required. action names the change in the messages
// ("revoking", "deleting a user").
func confirmChange(f *Factory, yes bool, action string, question func() (string, error)) error {
	if yes {
		return nil
	}
	if !f.IO.CanPrompt() {
		return usageErrorf("%s cannot be undone: confirm with --yes", action)
	}
	q, err := question()
	if err != nil {
		return err
	}
	ok, err := f.IO.Confirm(q)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("nothing was changed")
	}
	return nil
}

// describeDevice names a device for a question or a message: `SX-00042 (dev_..., site "Paris HQ")`.
func describeDevice(serial, id, siteName string) string {
	if siteName == "" {
		return fmt.Sprintf("%s (%s)", serial, id)
	}
	return fmt.Sprintf("%s (%s, site %q)", serial, id, siteName)
}
