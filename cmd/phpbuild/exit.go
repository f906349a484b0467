package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/transient"
)

// Exit codes, documented in README.md.
const (
	exitOK        = 0
	exitFailure   = 1  // anything else: a bug, or a tool that failed
	exitUserInput = 2  // the user must fix a file, a flag or a constraint
	exitTransient = 75 // registry or network; retrying may work (EX_TEMPFAIL)
	exitCanceled  = 130
)

// usageError is a wrong flag or argument.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCodeError is a command run for the user (phpbuild run) that ended
// with a status of its own: passed on, as ssh and docker run do, with
// nothing printed.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// report prints err as one "phpbuild: ..." block and returns the exit code.
func report(w io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	fmt.Fprintf(w, "phpbuild: %v\n", err)
	var ue *usageError
	switch {
	case errors.As(err, &ue), badinput.Is(err):
		return exitUserInput
	case transient.Is(err):
		return exitTransient
	case errors.Is(err, context.Canceled):
		return exitCanceled
	}
	return exitFailure
}
