package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/store"
)

// NewUser describes a user to add.
type NewUser struct {
	AccountID string
	Email     string
	Role      string
	Password  string
}

// AddUser adds a user to an account after checking the password against the policy.
func (s *Service) AddUser(ctx context.Context, nu NewUser) (User, error) {
	email, err := normalizeEmail(nu.Email)
	if err != nil {
		return User{}, err
	}
	role, err := api.ParseRole(nu.Role)
	if err != nil {
		return User{}, invalid("role", "%v", err)
	}
	acc, err := s.account(ctx, nu.AccountID)
	if err != nil {
		return User{}, err
	}
	if err := s.policy.Check(nu.Password, email, acc.Name); err != nil {
		return User{}, invalid("password", "%v", err)
	}
	hash, err := s.hasher.Hash(ctx, nu.Password)
	if err != nil {
		return User{}, err
	}
	id, err := s.newID(api.PrefixUser)
	if err != nil {
		return User{}, err
	}
	now := s.nowUTC()
	u, err := s.sealUser(ctx, User{User: store.User{ID: id, AccountID: acc.ID, Role: role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}, Email: email})
	if err != nil {
		return User{}, err
	}
	if err := s.st.CreateUser(ctx, u.User); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return User{}, fmt.Errorf("a user with e-mail %s already exists: %w", email, store.ErrConflict)
		}
		return User{}, err
	}
	return u, nil
}

// UserByEmail finds a user by e-mail for the operator's commands.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	return s.userByEmail(ctx, email)
}

// SetPassword replaces a user's password (the operator's command) and ends the user's sessions
// and what they minted; root API tokens, separate credentials, stay valid.
func (s *Service) SetPassword(ctx context.Context, email, password string) (User, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return User{}, err
	}
	return u, s.setPassword(ctx, u, password)
}

func (s *Service) setPassword(ctx context.Context, u User, password string) error {
	acc, err := s.account(ctx, u.AccountID)
	if err != nil {
		return err
	}
	if err := s.policy.Check(password, u.Email, acc.Name); err != nil {
		return invalid("password", "%v", err)
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	if _, err := s.st.ChangePassword(ctx, u.AccountID, u.ID, hash, s.nowUTC()); err != nil {
		return err
	}
	s.tokens.Invalidate()
	return nil
}

// ListUsers lists an account's users, or everyone's when accountID is "".
func (s *Service) ListUsers(ctx context.Context, accountID string) ([]User, error) {
	list, err := s.st.ListUsers(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return openAll(ctx, list, s.openUser)
}

// GeneratePassword returns a strong random password that passes the policy.
func (s *Service) GeneratePassword() (string, error) {
	for {
		pw, err := auth.GeneratePassword(s.rand)
		if err != nil {
			return "", err
		}
		if s.policy.Check(pw) == nil {
			return pw, nil
		}
	}
}

// The operator's changes to users (`smartx server user ...`, offline) are recorded in the
// account's audit log like API requests, with this method and route, so the account's owners
// see them.
const operatorMethod = "CLI"

// auditOperator records an operator's change to a user.
func (s *Service) auditOperator(ctx context.Context, u User, command string, status int) error {
	return s.auditEvent(ctx, operatorMethod, u.AccountID, u.ID, "smartx server user "+command, status)
}

// auditEvent records in the account's audit log what no API request did: an operator's command
// (method CLI), or the server's own work (method SSO: a check with an identity provider).
func (s *Service) auditEvent(ctx context.Context, method, accountID, userID, route string, status int) error {
	id, err := s.newID(api.PrefixRequest)
	if err != nil {
		return err
	}
	source := "operator"
	if method != operatorMethod {
		source = "server"
	}
	sealed, err := s.sealSource(ctx, accountID, id, source)
	if err != nil {
		return err
	}
	return s.st.AppendAudit(ctx, []store.AuditEntry{{Time: s.nowUTC(), RequestID: id, AccountID: accountID, UserID: userID,
		Method: method, Route: route, Status: status, SealedSource: sealed, Count: 1}})
}

// OperatorSetDisabled disables or enables a user from the operator's command line.
func (s *Service) OperatorSetDisabled(ctx context.Context, email string, disabled bool) (User, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return User{}, err
	}
	command := "enable"
	if disabled {
		command = "disable"
		err = s.st.DisableUser(ctx, u.AccountID, u.ID, s.nowUTC())
		s.tokens.Invalidate()
	} else {
		err = s.st.EnableUser(ctx, u.AccountID, u.ID, s.nowUTC())
	}
	if err != nil {
		return User{}, err
	}
	return u, s.auditOperator(ctx, u, command, 200)
}

// OperatorDeleteUser deletes a user from the operator's command line.
func (s *Service) OperatorDeleteUser(ctx context.Context, email string) (User, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return User{}, err
	}
	if err := s.deleteUser(ctx, u); err != nil {
		return User{}, err
	}
	return u, s.auditOperator(ctx, u, "delete", 200)
}

// OperatorResetTwoFactor removes a user's TOTP and recovery codes (a lost phone and lost codes):
// their next login asks for an e-mailed code. It is logged at WARN level and in the audit log.
func (s *Service) OperatorResetTwoFactor(ctx context.Context, email string) (User, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return User{}, err
	}
	if err := s.st.ClearTOTP(ctx, u.AccountID, u.ID, s.nowUTC()); err != nil {
		return User{}, err
	}
	s.log.Warn("two-factor reset by the operator", "account", u.AccountID, "user", u.ID)
	return u, s.auditOperator(ctx, u, "reset-2fa", 200)
}

// deleteUser deletes a user and their keys and tokens.
func (s *Service) deleteUser(ctx context.Context, u User) error {
	if err := s.st.DeleteUser(ctx, u.AccountID, u.ID); err != nil {
		return err
	}
	s.tokens.Invalidate()
	return nil
}

// checkAccountWide refuses a token restricted to sites: managing users is account-wide.
func checkAccountWide(caller store.Token, what string) error {
	if len(caller.Sites) > 0 {
		return siteForbidden("the token is restricted to some sites: " + what + " needs a token valid for the whole account")
	}
	return nil
}

// callerUser returns the user a token speaks for.
func (s *Service) callerUser(ctx context.Context, caller store.Token) (User, error) {
	return s.user(ctx, caller.AccountID, caller.UserID)
}

// accountUser returns a user of the caller's account, for its administrators.
func (s *Service) accountUser(ctx context.Context, caller store.Token, id string) (User, error) {
	if err := checkAccountWide(caller, "managing users"); err != nil {
		return User{}, err
	}
	if !store.ValidID(id, api.PrefixUser) {
		return User{}, fmt.Errorf("user %q: %w", id, store.ErrNotFound)
	}
	return s.user(ctx, caller.AccountID, id)
}

// AccountUsers lists the users of the caller's account.
func (s *Service) AccountUsers(ctx context.Context, caller store.Token) ([]User, error) {
	if err := checkAccountWide(caller, "listing users"); err != nil {
		return nil, err
	}
	return s.ListUsers(ctx, caller.AccountID)
}

// AccountUser returns one user of the caller's account.
func (s *Service) AccountUser(ctx context.Context, caller store.Token, id string) (User, error) {
	return s.accountUser(ctx, caller, id)
}

// forbidden is a change the caller's role does not allow.
func forbidden(detail string) error { return newProblemError(api.CodeForbidden, detail) }

// checkManage applies the rules of managing another user: only an owner manages owners or
// makes someone an owner, and nobody changes themselves through these routes. Together they
// keep an active owner in every account: an owner can only be disabled, demoted or deleted by
// another owner, who is active since they are making the request.
func (s *Service) checkManage(ctx context.Context, caller store.Token, target User, newRole api.Role) (User, error) {
	me, err := s.callerUser(ctx, caller)
	if err != nil {
		return User{}, err
	}
	if target.ID == me.ID {
		return User{}, forbidden("you cannot change your own user here: ask another owner or administrator")
	}
	if (target.Role == api.RoleOwner || newRole == api.RoleOwner) && me.Role != api.RoleOwner {
		return User{}, forbidden("only an owner can add, change or remove an owner")
	}
	return me, nil
}

// CreateAccountUser adds a user to the caller's account with a generated password, shown once.
func (s *Service) CreateAccountUser(ctx context.Context, caller store.Token, req api.CreateUserRequest) (User, string, error) {
	if err := checkAccountWide(caller, "adding users"); err != nil {
		return User{}, "", err
	}
	role, err := api.ParseRole(string(req.Role))
	if err != nil {
		return User{}, "", invalid("role", "%v", err)
	}
	if _, err := s.checkManage(ctx, caller, User{}, role); err != nil {
		return User{}, "", err
	}
	password, err := s.GeneratePassword()
	if err != nil {
		return User{}, "", err
	}
	u, err := s.AddUser(ctx, NewUser{AccountID: caller.AccountID, Email: req.Email, Role: string(role), Password: password})
	if errors.Is(err, store.ErrConflict) {
		return User{}, "", newProblemError(api.CodeConflict, "this e-mail is already a user's login on the platform: use another address")
	}
	return u, password, err
}

// UpdateAccountUser changes a user's role. A user whose role loses scopes has every token
// revoked: a token never outranks its user.
func (s *Service) UpdateAccountUser(ctx context.Context, caller store.Token, id string, req api.UpdateUserRequest) (User, error) {
	target, err := s.accountUser(ctx, caller, id)
	if err != nil {
		return User{}, err
	}
	if req.Role == nil {
		return target, nil
	}
	role, err := api.ParseRole(string(*req.Role))
	if err != nil {
		return User{}, invalid("role", "%v", err)
	}
	if _, err := s.checkManage(ctx, caller, target, role); err != nil {
		return User{}, err
	}
	if api.MissingScope(role.Scopes(), target.Role.Scopes()) != "" {
		if _, err := s.tokens.RevokeUserTokens(ctx, target.AccountID, target.ID, ""); err != nil {
			return User{}, err
		}
	}
	if err := s.st.SetUserRole(ctx, target.AccountID, target.ID, role, s.nowUTC()); err != nil {
		return User{}, err
	}
	return s.user(ctx, target.AccountID, target.ID)
}

// SetAccountUserDisabled disables (revoking every token of theirs) or enables a user.
func (s *Service) SetAccountUserDisabled(ctx context.Context, caller store.Token, id string, disabled bool) (User, error) {
	target, err := s.accountUser(ctx, caller, id)
	if err != nil {
		return User{}, err
	}
	if _, err := s.checkManage(ctx, caller, target, ""); err != nil {
		return User{}, err
	}
	if disabled {
		err = s.st.DisableUser(ctx, target.AccountID, target.ID, s.nowUTC())
		s.tokens.Invalidate()
	} else {
		err = s.st.EnableUser(ctx, target.AccountID, target.ID, s.nowUTC())
	}
	if err != nil {
		return User{}, err
	}
	return s.user(ctx, target.AccountID, target.ID)
}

// DeleteAccountUser deletes a user of the caller's account, their keys and tokens.
func (s *Service) DeleteAccountUser(ctx context.Context, caller store.Token, id string) error {
	target, err := s.accountUser(ctx, caller, id)
	if err != nil {
		return err
	}
	if _, err := s.checkManage(ctx, caller, target, ""); err != nil {
		return err
	}
	return s.deleteUser(ctx, target)
}

// ResetAccountUserTwoFactor removes a user's TOTP and recovery codes: an owner's reset for a
// user who lost both. Logged at WARN level besides the audit log.
func (s *Service) ResetAccountUserTwoFactor(ctx context.Context, caller store.Token, id string) (User, error) {
	target, err := s.accountUser(ctx, caller, id)
	if err != nil {
		return User{}, err
	}
	me, err := s.checkManage(ctx, caller, target, "")
	if err != nil {
		return User{}, err
	}
	if me.Role != api.RoleOwner {
		return User{}, forbidden("only an owner can reset another user's two-factor login")
	}
	if err := s.st.ClearTOTP(ctx, target.AccountID, target.ID, s.nowUTC()); err != nil {
		return User{}, err
	}
	s.log.Warn("two-factor reset by an owner", "account", target.AccountID, "user", target.ID, "by", me.ID, "token", caller.ID)
	return s.user(ctx, target.AccountID, target.ID)
}
