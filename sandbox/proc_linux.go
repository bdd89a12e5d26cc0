package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procRoot is where process information is read from.
const procRoot = "/proc"

// procStat is the part of /proc/PID/stat the runner needs.
type procStat struct {
	pid, ppid, pgrp, sid int
	state                byte   // 'R', 'S', 'Z', ...
	start                uint64 // start time in clock ticks since boot; tells a reused pid apart
}

// gone reports whether the process no longer runs (a zombie or dead task).
func (s procStat) gone() bool { return s.state == 'Z' || s.state == 'X' || s.state == 'x' }

// parseStat parses the contents of /proc/PID/stat. The command name may hold
// spaces and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	var s procStat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return s, errors.New("parse stat: no command name")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return s, fmt.Errorf("parse stat: pid: %w", err)
	}
	// Fields after the name: state(3) ppid(4) pgrp(5) session(6) ... starttime(22).
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return s, errors.New("parse stat: short line")
	}
	s.pid, s.state = pid, f[0][0]
	ints := []*int{&s.ppid, &s.pgrp, &s.sid}
	for i, p := range ints {
		if *p, err = strconv.Atoi(f[1+i]); err != nil {
			return s, fmt.Errorf("parse stat: field %d: %w", 4+i, err)
		}
	}
	if s.start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return s, fmt.Errorf("parse stat: starttime: %w", err)
	}
	return s, nil
}

// readStats returns the stat of every process in /proc. Processes that vanish
// or cannot be read while scanning are skipped; only failing to list /proc is
// an error.
func readStats() ([]procStat, error) {
	d, err := os.Open(procRoot)
	if err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}
	names, err := d.Readdirnames(-1)
	_ = d.Close()
	if err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}
	stats := make([]procStat, 0, len(names))
	buf := make([]byte, 0, 512)
	for _, name := range names {
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		b, err := readProcFile(procRoot+"/"+name+"/stat", buf)
		if err != nil {
			continue // exited meanwhile, or not ours to read
		}
		buf = b[:0]
		s, err := parseStat(b)
		if err != nil {
			continue
		}
		stats = append(stats, s)
	}
	return stats, nil
}

// readStat returns the stat of one process.
func readStat(pid int) (procStat, error) {
	b, err := readProcFile(procRoot+"/"+strconv.Itoa(pid)+"/stat", nil)
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// readEnviron returns the initial environment of pid as NUL-terminated
// entries, or nil when it cannot be read (exited, zombie, other user).
func readEnviron(pid int) []byte {
	b, err := readProcFile(procRoot+"/"+strconv.Itoa(pid)+"/environ", nil)
	if err != nil {
		return nil
	}
	return b
}

// readProcFile reads a whole /proc file into buf (grown as needed) with plain
// system calls: scans read hundreds of these, and os.File's poller
// registration would double their cost.
func readProcFile(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if cap(buf) == 0 {
		buf = make([]byte, 0, 4096)
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// envEntries calls fn for every NUL-separated entry of environ until fn
// returns true, and reports whether it did.
func envEntries(environ []byte, fn func(entry []byte) bool) bool {
	for len(environ) > 0 {
		i := bytes.IndexByte(environ, 0)
		if i < 0 {
			i = len(environ)
		}
		if fn(environ[:i]) {
			return true
		}
		if i == len(environ) {
			break
		}
		environ = environ[i+1:]
	}
	return false
}

// hasEntry reports whether environ holds exactly the entry want.
func hasEntry(environ []byte, want string) bool {
	return envEntries(environ, func(e []byte) bool { return string(e) == want })
}

// markerOf returns the process id part of a marker entry
// MarkerVar=<instance>/<id>, and whether entry is a marker of instance. The
// id never contains a slash, so instance "a" does not match "a/b/1".
func markerOf(entry, instance string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(entry, MarkerVar+"="+instance+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return rest, true
}
