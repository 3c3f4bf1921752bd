package api

import (
	"fmt"
	"net/http"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// ProblemTypePrefix starts the type URI of every problem; the stable code follows it. The URI
// is an identifier, not a page to fetch.
const ProblemTypePrefix = "urn:smartx:problem:"

// Code is the stable, machine-readable reason of an error response. Clients branch on it, never
// on the title or detail, which are for people and may change.
type Code string

// The error codes of the API.
const (
	CodeUnauthenticated      Code = "unauthenticated"        // no credentials, or credentials that do not verify
	CodeTokenExpired         Code = "token_expired"          // the token was valid but its expiry has passed
	CodeTokenRevoked         Code = "token_revoked"          // the token was revoked
	CodeInsufficientScope    Code = "insufficient_scope"     // the token lacks Problem.Scope
	CodeNotFound             Code = "not_found"              // no such resource in the caller's account
	CodeMethodNotAllowed     Code = "method_not_allowed"     // the route exists but not with this method
	CodeValidationFailed     Code = "validation_failed"      // the request is malformed; see Problem.Errors
	CodeUnsupportedMediaType Code = "unsupported_media_type" // the body is not application/json
	CodeRateLimited          Code = "rate_limited"           // too many attempts; see the Retry-After header
	CodePayloadTooLarge      Code = "payload_too_large"      // the body is over the route's limit
	CodeConflict             Code = "conflict"               // the resource already exists or changed
	CodeInternal             Code = "internal"               // the server failed; the request id helps support

	CodeSiteForbidden        Code = "site_forbidden"        // the token is restricted to other sites of the account
	CodeSiteNotEmpty         Code = "site_not_empty"        // the site still has devices: decommission them first
	CodeDeviceDecommissioned Code = "device_decommissioned" // the device was decommissioned: it cannot change any more
	CodeNotAcceptable        Code = "not_acceptable"        // no representation matches the Accept header or format
	CodeSequenceConflict     Code = "sequence_conflict"     // another file with this sequence number was already stored
	CodeFileRejected         Code = "file_rejected"         // the data file is damaged or not the device's; see Problem.Reason
	CodeSerialMismatch       Code = "serial_mismatch"       // the data file was written by another device

	CodeCodeInvalid      Code = "code_invalid"      // the second-factor code is wrong; tries are counted
	CodeCodeExpired      Code = "code_expired"      // the e-mailed code expired: ask for a new one
	CodeTooManyAttempts  Code = "too_many_attempts" // too many wrong codes: ask for a new one, or log in again
	CodeChallengeInvalid Code = "challenge_invalid" // the login is not pending any more: log in again
	CodeMailUnavailable  Code = "mail_unavailable"  // the server cannot send e-mailed codes
	CodeUserDisabled     Code = "user_disabled"     // the user was disabled by an owner or administrator
	CodeSessionRequired  Code = "session_required"  // the request needs a login session, not an API token
	CodeForbidden        Code = "forbidden"         // the caller's role does not allow this change
	CodeClientClosed     Code = "client_closed"     // the client hung up before the answer (audit log only)

	CodeSSONotLinked   Code = "sso_not_linked"  // no account signs in the e-mail's domain through single sign-on
	CodeSSOFailed      Code = "sso_failed"      // the identity provider refused the sign-in, or its answer did not verify
	CodeSSOForbidden   Code = "sso_forbidden"   // the provider's user may not sign in to the account (domain, e-mail, role)
	CodeSSORequired    Code = "sso_required"    // the account signs in through its identity provider: no password logins
	CodeSSOUnavailable Code = "sso_unavailable" // the identity provider cannot be reached or cannot do what was asked
)

// codeStatus maps each code to its HTTP status.
var codeStatus = map[Code]int{
	CodeUnauthenticated:      http.StatusUnauthorized,
	CodeTokenExpired:         http.StatusUnauthorized,
	CodeTokenRevoked:         http.StatusUnauthorized,
	CodeInsufficientScope:    http.StatusForbidden,
	CodeNotFound:             http.StatusNotFound,
	CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	CodeValidationFailed:     http.StatusUnprocessableEntity,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	CodeRateLimited:          http.StatusTooManyRequests,
	CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	CodeConflict:             http.StatusConflict,
	CodeInternal:             http.StatusInternalServerError,
	CodeSiteForbidden:        http.StatusForbidden,
	CodeSiteNotEmpty:         http.StatusConflict,
	CodeDeviceDecommissioned: http.StatusConflict,
	CodeNotAcceptable:        http.StatusNotAcceptable,
	CodeSequenceConflict:     http.StatusConflict,
	CodeFileRejected:         http.StatusUnprocessableEntity,
	CodeSerialMismatch:       http.StatusUnprocessableEntity,
	CodeCodeInvalid:          http.StatusUnauthorized,
	CodeCodeExpired:          http.StatusUnauthorized,
	CodeTooManyAttempts:      http.StatusUnauthorized,
	CodeChallengeInvalid:     http.StatusUnauthorized,
	CodeMailUnavailable:      http.StatusServiceUnavailable,
	CodeUserDisabled:         http.StatusForbidden,
	CodeSessionRequired:      http.StatusForbidden,
	CodeForbidden:            http.StatusForbidden,
	CodeClientClosed:         StatusClientClosedRequest,
	CodeSSONotLinked:         http.StatusNotFound,
	CodeSSOFailed:            http.StatusUnauthorized,
	CodeSSOForbidden:         http.StatusForbidden,
	CodeSSORequired:          http.StatusForbidden,
	CodeSSOUnavailable:       http.StatusServiceUnavailable,
}

// StatusClientClosedRequest is what the audit log records for a request whose client hung up
// before the answer (nginx's 499): the server did not fail, the client left.
const StatusClientClosedRequest = 499

// AllCodes lists every code, for documentation and tests.
var AllCodes = []Code{
	CodeUnauthenticated, CodeTokenExpired, CodeTokenRevoked, CodeInsufficientScope, CodeNotFound,
	CodeMethodNotAllowed, CodeValidationFailed, CodeUnsupportedMediaType, CodeRateLimited,
	CodePayloadTooLarge, CodeConflict, CodeInternal, CodeSiteForbidden, CodeSiteNotEmpty, CodeDeviceDecommissioned,
	CodeNotAcceptable, CodeSequenceConflict, CodeFileRejected, CodeSerialMismatch,
	CodeCodeInvalid, CodeCodeExpired, CodeTooManyAttempts, CodeChallengeInvalid, CodeMailUnavailable, CodeUserDisabled,
	CodeSessionRequired, CodeForbidden, CodeClientClosed,
	CodeSSONotLinked, CodeSSOFailed, CodeSSOForbidden, CodeSSORequired, CodeSSOUnavailable,
}

// Status returns the HTTP status of the code, 500 for a code this version does not know.
func (c Code) Status() int {
	if s, ok := codeStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem details object with the smartx extensions.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Instance is the request id, which the audit log records too.
	Instance string `json:"instance,omitempty"`

	Code Code `json:"code"`
	// Scope names the scope that was missing, with CodeInsufficientScope.
	Scope Scope `json:"scope,omitempty"`
	// Errors lists the invalid fields, with CodeValidationFailed.
	Errors []FieldError `json:"errors,omitempty"`
	// Reason names the damage class of a rejected data file, with CodeFileRejected.
	Reason RejectReason `json:"reason,omitempty"`
}

// FieldError says what is wrong with one field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// NewProblem builds the problem for code with a human detail.
func NewProblem(code Code, detail string) *Problem {
	status := code.Status()
	return &Problem{
		Type:   ProblemTypePrefix + string(code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// Error makes a problem usable as a Go error on the client side.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%s (%d %s): %s", p.Code, p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%s (%d %s)", p.Code, p.Status, p.Title)
}
