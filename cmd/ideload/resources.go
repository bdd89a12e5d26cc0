package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// resources is one sample of the server process.
type resources struct {
	RSSMiB    float64 `json:"rss_mib"`
	FDs       int     `json:"fds"`
	Processes int     `json:"processes"` // the server and its descendants
}

// sampleResources reads pid's resident memory, open descriptors and
// process tree from proc (normally "/proc").
func sampleResources(proc string, pid int) (resources, error) {
	var r resources
	dir := filepath.Join(proc, strconv.Itoa(pid))
	rss, err := vmRSS(filepath.Join(dir, "status"))
	if err != nil {
		return r, err
	}
	r.RSSMiB = float64(int64(rss*100/1024)) / 100
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return r, err
	}
	r.FDs = len(fds)
	r.Processes, err = treeSize(proc, pid)
	return r, err
}

// vmRSS returns the VmRSS line of a status file, in KiB.
func vmRSS(status string) (float64, error) {
	f, err := os.Open(status)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kib, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
		if err != nil {
			return 0, fmt.Errorf("%s: VmRSS %q: %w", status, rest, err)
		}
		return kib, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no VmRSS (a zombie?)", status)
}

// treeSize counts pid and its descendants, following the parent links of
// every process's stat file.
func treeSize(proc string, pid int) (int, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return 0, err
	}
	children := make(map[int][]int)
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		if ppid, ok := parentOf(stat); ok {
			children[ppid] = append(children[ppid], child)
		}
	}
	n := 0
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		n++
		queue = append(queue, children[queue[0]]...)
	}
	return n, nil
}

// parentOf reads the parent pid from a stat file: the second field after
// the command name, which is in parentheses and may hold anything.
func parentOf(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}
