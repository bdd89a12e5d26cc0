package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Claims on tenant uid ranges (SBX-09). Two servers on one host whose
// isolation.uid_first/uid_count overlap would give one uid to tenants of
// both, and each would see and kill the other's tenant processes as its
// own. So a server that gives tenants uids claims its range first: a file
// per server in DIR/uids/ (isolation.uid_lock_dir) holding
// "first,count,pid,data-dir-hash", locked with flock for as long as the
// server runs; the kernel releases the lock when the process ends, however
// it ends. A claim that overlaps a locked file's range is refused; an
// unlocked file is a dead server's, and is taken over.

// uidClaim is a held claim on a range of uids; Close releases it.
type uidClaim struct {
	f *os.File
}

// Close releases the claim and removes its file.
func (c *uidClaim) Close() error {
	if c == nil || c.f == nil {
		return nil
	}
	err := os.Remove(c.f.Name())
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	c.f = nil
	return err
}

// claimedRange is what a claim file holds.
type claimedRange struct {
	first, count, pid int
	data              string // hash of the data directory
}

func (r claimedRange) String() string {
	return fmt.Sprintf("%d,%d,%d,%s\n", r.first, r.count, r.pid, r.data)
}

func (r claimedRange) overlaps(o claimedRange) bool {
	return r.first < o.first+o.count && o.first < r.first+r.count
}

func parseClaim(s string) (claimedRange, error) {
	f := strings.Split(strings.TrimSpace(s), ",")
	if len(f) != 4 {
		return claimedRange{}, errors.New("malformed claim")
	}
	var r claimedRange
	var err error
	for i, p := range []*int{&r.first, &r.count, &r.pid} {
		if *p, err = strconv.Atoi(f[i]); err != nil {
			return claimedRange{}, errors.New("malformed claim")
		}
	}
	r.data = f[3]
	return r, nil
}

// claimUIDs claims the uids first to first+count-1 for the server of the
// data directory data, in lockDir/uids. It fails, naming the other
// server's range, pid and data directory hash, when a live server holds
// an overlapping range (or uses the same data directory). The claim lasts
// until Close or the end of the process.
func claimUIDs(lockDir string, first, count int, data string) (*uidClaim, error) {
	dir := filepath.Join(lockDir, "uids")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("uid range claim: %w", err)
	}
	// One claim at a time on this host: the scan and the new claim are
	// one step.
	guard, err := os.OpenFile(filepath.Join(dir, ".guard"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("uid range claim: %w", err)
	}
	defer guard.Close() // releases the flock
	if err := flock(guard, unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("uid range claim: %w", err)
	}
	mine := claimedRange{first: first, count: count, pid: os.Getpid(), data: instanceID(data)} // names the data directory without showing its path
	name := filepath.Join(dir, mine.data+".lock")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("uid range claim: %w", err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".lock") || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		other, held, err := readClaim(p)
		if err != nil {
			return nil, fmt.Errorf("uid range claim: %s: %w", p, err)
		}
		switch {
		case !held:
			// Its server has ended: take it over.
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("uid range claim: %w", err)
			}
		case p == name:
			return nil, fmt.Errorf("another ideserver (pid %d) is running with this data directory", other.pid)
		case mine.overlaps(other):
			return nil, fmt.Errorf("tenant uid range %d-%d (isolation.uid_first, isolation.uid_count) overlaps the range %d-%d of another ideserver on this host (pid %d, data directory hash %s, claim in %s): two servers would give one uid to tenants of both; choose disjoint ranges",
				first, first+count-1, other.first, other.first+other.count-1, other.pid, other.data, dir)
		}
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("uid range claim: %w", err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("uid range claim: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(mine.String()), 0)
	}
	if err != nil {
		f.Close()
		_ = os.Remove(name)
		return nil, fmt.Errorf("uid range claim: %w", err)
	}
	return &uidClaim{f: f}, nil
}

// readClaim reads the claim file p and reports whether a live process
// holds its lock.
func readClaim(p string) (claimedRange, bool, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return claimedRange{}, false, nil
	}
	if err != nil {
		return claimedRange{}, false, err
	}
	defer f.Close()
	switch err := flock(f, unix.LOCK_SH|unix.LOCK_NB); {
	case err == nil:
		return claimedRange{}, false, nil // no one holds it; closing unlocks
	case !errors.Is(err, unix.EWOULDBLOCK):
		return claimedRange{}, false, err
	}
	b := make([]byte, 256)
	n, err := f.ReadAt(b, 0)
	if n == 0 && err != nil {
		return claimedRange{}, true, fmt.Errorf("read claim: %w", err)
	}
	r, err := parseClaim(string(b[:n]))
	return r, true, err
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}
