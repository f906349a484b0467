package main

import "syscall"

// becomeSubreaper makes orphans of our children ours to reap even when the
// launcher is not PID 1 (under a test, or behind another init).
func becomeSubreaper() error {
	const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER, <linux/prctl.h>
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}
