// Package errtext turns error values into text fit to embed in a longer message.
//
// Windows system messages are full sentences: "No connection could be made because the target
// machine actively refused it." Embedded as they are, they read "...refused it.: is the server
// running". Every place that puts an error's text inside a sentence goes through Of.
package errtext

import "strings"

// Of returns err's text without the trailing period and spaces system messages end with, and
// with line breaks folded into spaces, so it can be followed by more words. A nil error is "".
func Of(err error) string {
	if err == nil {
		return ""
	}
	return Clean(err.Error())
}

// Clean is Of for a message that is already a string.
func Clean(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Join(strings.Fields(strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)), " ")
	}
	return strings.TrimRight(s, ". \t")
}
