package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
)

// ErrInvalidCredentials is a login with an unknown e-mail or a wrong password; the two are
// deliberately one error.
var ErrInvalidCredentials = errors.New("the e-mail or password is wrong")

// ValidationError is a request field with a bad value.
type ValidationError struct {
	Field   string
	Message string
}

// Error names the field, unless the message already starts with it ("password must be...").
func (e *ValidationError) Error() string {
	if strings.HasPrefix(e.Message, e.Field+" ") {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ValidationErrors are every bad field of one request, in the order they were checked: the
// answer lists them all, so a client fixes its request in one go.
type ValidationErrors []*ValidationError

// Error joins the fields' errors.
func (e ValidationErrors) Error() string {
	msgs := make([]string, len(e))
	for i, ve := range e {
		msgs[i] = ve.Error()
	}
	return strings.Join(msgs, "; ")
}

// fieldChecks gathers the validation errors of a request's checks, so a request with several
// bad fields hears of them all at once.
type fieldChecks struct {
	errs  ValidationErrors
	other error // the first error that is not a validation error
}

// add records err and reports whether it was nil: a check that depends on a field goes on only
// when that field was good.
func (c *fieldChecks) add(err error) bool {
	var ve *ValidationError
	var ves ValidationErrors
	switch {
	case err == nil:
		return true
	case errors.As(err, &ves):
		c.errs = append(c.errs, ves...)
	case errors.As(err, &ve):
		c.errs = append(c.errs, ve)
	case c.other == nil:
		c.other = err
	}
	return false
}

// ok reports whether every check so far passed.
func (c *fieldChecks) ok() bool { return len(c.errs) == 0 && c.other == nil }

// err returns every validation error (ValidationErrors), else the first other error, else nil.
func (c *fieldChecks) err() error {
	switch {
	case len(c.errs) == 1:
		return c.errs[0]
	case len(c.errs) > 1:
		return c.errs
	}
	return c.other
}

// ScopeError is a request for more than the caller holds: a scope its token or role lacks, or
// sites outside its token's restriction.
type ScopeError struct {
	Scope  api.Scope // the missing scope, "" for a site restriction
	Detail string
}

func (e *ScopeError) Error() string { return e.Detail }

// RateLimitError is a refused attempt; try again after RetryAfter.
type RateLimitError struct {
	RetryAfter time.Duration
	Detail     string // what was limited; "too many attempts" when empty
}

func (e *RateLimitError) Error() string {
	what := e.Detail
	if what == "" {
		what = "too many attempts"
	}
	return fmt.Sprintf("%s: try again in %s", what, max(e.RetryAfter, time.Second).Round(time.Second))
}
