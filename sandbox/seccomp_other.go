//go:build !amd64 && !arm64

package sandbox

func seccompArch() (arch uint32, blocked []uintptr, ok bool) { return 0, nil, false }
