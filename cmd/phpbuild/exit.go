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

// report prints err as one "phpbuild: ..." block and returns the exit code.
func report(w io.Writer, err error) int {
	if err == nil {
		return exitOK
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
