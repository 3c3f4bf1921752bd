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
