package commands

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/server"
	"github.com/smart-impulse/smartx/internal/ui"
)

func newServerUserCmd(f *Factory, data *serverDataFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the server's users, working on its data directory",
		Args:  noArgs,
	}
	cmd.AddCommand(
		newServerUserAddCmd(f, data),
		newServerUserPasswdCmd(f, data),
		newServerUserListCmd(f, data),
	)
	cmd.AddCommand(newServerUserStateCmds(f, data)...)
	return cmd
}

// serverUserJSON is the JSON shape of a user in operator commands; Password is set only when
// the command generated one.
type serverUserJSON struct {
	ID        string           `json:"id"`
	AccountID string           `json:"account_id"`
	Email     string           `json:"email"`
	Role      api.Role         `json:"role"`
	Disabled  bool             `json:"disabled"`
	TwoFactor api.SecondFactor `json:"two_factor"`
	CreatedAt time.Time        `json:"created_at"`
	Password  string           `json:"password,omitempty"`
}

// readServerPassword reads one line from stdin for --password-stdin.
func readServerPassword(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := secretfile.Text([]byte(line))
	if pw == "" {
		return "", usageErrorf("--password-stdin read an empty password: pipe one in, or leave the flag out to generate one")
	}
	return pw, nil
}

func renderServerUsers(f *Factory, format ui.Format, users []server.User, generated string) error {
	if format == ui.FormatJSON {
		out := make([]serverUserJSON, len(users))
		for i, u := range users {
			out[i] = serverUserJSON{ID: u.ID, AccountID: u.AccountID, Email: u.Email, Role: u.Role, Disabled: u.Disabled(),
				TwoFactor: secondFactorOf(u), CreatedAt: u.CreatedAt, Password: generated}
		}
		if generated != "" && len(out) == 1 {
			return ui.WriteJSON(f.IO.Out, out[0])
		}
		return ui.WriteJSON(f.IO.Out, out)
	}
	t := f.IO.NewTable("ID", "ACCOUNT", "EMAIL", "ROLE", "2FA", "STATE", "CREATED")
	for _, u := range users {
		state := "active"
		if u.Disabled() {
			state = "disabled"
		}
		t.Row(u.ID, u.AccountID, u.Email, string(u.Role), string(secondFactorOf(u)), state, u.CreatedAt.Format(time.RFC3339))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if generated != "" {
		_, err := fmt.Fprintf(f.IO.Out, "\nPassword: %s\n(shown once: hand it over safely)\n", generated)
		return err
	}
	return nil
}

// secondFactorOf is the factor a user's logins ask for.
func secondFactorOf(u server.User) api.SecondFactor {
	if u.TOTP.Enabled() {
		return api.FactorTOTP
	}
	return api.FactorEmail
}
