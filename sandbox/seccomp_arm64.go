package sandbox

import "golang.org/x/sys/unix"

func seccompArch() (arch uint32, blocked []uintptr, ok bool) {
	return unix.AUDIT_ARCH_AARCH64, commonBlocked(), true
}
