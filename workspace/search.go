package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Search defaults and limits.
const (
	DefaultSearchMaxResults  = 1000
	DefaultSearchMaxFileSize = 1 << 20
	// MaxQueryLen bounds SearchQuery.Text, in bytes.
	MaxQueryLen = 1024
	// MaxMatchText bounds Match.Text, in bytes.
	MaxMatchText = 500

	binarySniffLen = 8 << 10
)

// SearchQuery is what to look for in a workspace's files.
type SearchQuery struct {
	// Text is the literal text, or with Regex the RE2 regular expression
	// (Go's regexp syntax; matching time is linear in the input). It must
	// not be empty and is at most MaxQueryLen bytes. Matching is per line:
	// a match never spans a line break, and ^ and $ match at line ends.
	Text          string
	Regex         bool
	CaseSensitive bool
	// MaxResults bounds the number of matches; 0 means 1000.
	MaxResults int
	// MaxFileSize skips larger files; 0 means 1 MiB.
	MaxFileSize int64
}

// Match is one occurrence of the query.
type Match struct {
	// Path is slash-separated, relative to the workspace root.
	Path string `json:"path"`
	// Line counts lines from 1.
	Line int `json:"line"`
	// Column is where the match starts, counted from 1 in Unicode code
	// points (characters) of the line; each byte of invalid UTF-8 counts as
	// one.
	Column int `json:"column"`
	// Text is the line without its line break, with invalid UTF-8 replaced
	// by U+FFFD, cut to at most MaxMatchText bytes on a character boundary.
	Text string `json:"text"`
}

// SearchResult is the outcome of a search. Matches is never nil.
type SearchResult struct {
	Matches []Match `json:"matches"`
	// Truncated is true when more matches exist than MaxResults allowed.
	Truncated bool `json:"truncated"`
}

// Search finds q in the workspace's text files and returns every match, in
// path order (depth first, names sorted bytewise), then line and column
// order. Each non-empty match of a line is a Match.
//
// The walk never follows a symlink, neither to a file nor to a directory,
// and skips .git directories, Files' temporary files, files larger than
// q.MaxFileSize, binary files (a NUL byte in the first 8 KiB) and anything
// that is not a regular file or directory; unreadable entries are skipped
// too. It stops after q.MaxResults matches with Truncated set. An empty,
// overlong or invalid query is ErrInvalidQuery.
//
// Search blocks until done or until ctx ends; then it returns the matches
// found so far with an error wrapping ctx.Err(). Safe for concurrent use.
func (f *Files) Search(ctx context.Context, q SearchQuery) (SearchResult, error) {
	re, err := compileQuery(q)
	if err != nil {
		return SearchResult{Matches: []Match{}}, err
	}
	s := &searcher{
		ctx:        ctx,
		re:         re,
		maxResults: q.MaxResults,
		maxSize:    q.MaxFileSize,
		matches:    []Match{},
	}
	if s.maxResults == 0 {
		s.maxResults = DefaultSearchMaxResults
	}
	if s.maxSize == 0 {
		s.maxSize = DefaultSearchMaxFileSize
	}
	if !q.Regex {
		// A literal matches a line only if it matches the file. (Not so
		// for every regexp: \A matches at every line start but only at
		// the file's.)
		s.wholeFile = true
		if q.CaseSensitive {
			s.literal = []byte(q.Text)
		} else if isASCII(q.Text) {
			s.foldLit = []byte(strings.ToLower(q.Text))
		}
	}
	root, err := f.root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return SearchResult{Matches: []Match{}}, fsError("search", "", err)
	}
	err = s.walkDir(root, "")
	res := SearchResult{Matches: s.matches, Truncated: s.truncated}
	if err != nil && !errors.Is(err, errStop) {
		return res, fmt.Errorf("search: %w", err)
	}
	return res, nil
}

func compileQuery(q SearchQuery) (*regexp.Regexp, error) {
	switch {
	case q.Text == "":
		return nil, fmt.Errorf("%w: empty text", ErrInvalidQuery)
	case len(q.Text) > MaxQueryLen:
		return nil, fmt.Errorf("%w: text longer than %d bytes", ErrInvalidQuery, MaxQueryLen)
	case q.MaxResults < 0 || q.MaxFileSize < 0:
		return nil, fmt.Errorf("%w: negative limit", ErrInvalidQuery)
	}
	expr := q.Text
	if !q.Regex {
		expr = regexp.QuoteMeta(expr)
	}
	flags := "(?m)"
	if !q.CaseSensitive {
		flags = "(?mi)"
	}
	re, err := regexp.Compile(flags + expr)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: %s: %q", ErrInvalidQuery, se.Code, se.Expr)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidQuery, err)
	}
	return re, nil
}

// errStop ends the walk once enough matches were found.
var errStop = errors.New("enough matches")

type searcher struct {
	ctx        context.Context
	re         *regexp.Regexp
	literal    []byte // when set, a file must contain it to match
	wholeFile  bool   // a file must match re as a whole to match by line
	foldLit    []byte // ASCII literal, lower case, for case-insensitive prefiltering
	buf        []byte // reused for file contents
	lower      []byte // reused for ASCII-lowered file contents
	maxResults int
	maxSize    int64
	matches    []Match
	truncated  bool
}

// walkDir searches the open directory d (the canonical path rel) and
// closes it. Children are opened relative to d with O_NOFOLLOW, so no
// symlink is ever followed and nothing outside d is reached.
func (s *searcher) walkDir(d *os.File, rel string) error {
	defer d.Close()
	if err := s.ctx.Err(); err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil // unreadable: skip
	}
	slices.Sort(names)
	for _, name := range names {
		if name == ".git" || strings.HasPrefix(name, tempPrefix) {
			continue
		}
		child := path.Join(rel, name)
		var fd int
		var st unix.Stat_t
		err := withFd(d, func(dirfd int) error {
			fd = openChild(dirfd, name, &st)
			return nil
		})
		if err != nil {
			return err
		}
		if fd < 0 {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = s.walkDir(newDirFile(fd, child), child)
		} else {
			err = s.searchFile(fd, st.Size, child)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// openChild opens the directory or regular file name in dirfd without
// following symlinks and returns its descriptor, with st describing it, or
// -1 for anything else. The type is checked before opening, so no device or
// fifo is opened, and again after.
func openChild(dirfd int, name string, st *unix.Stat_t) int {
	if unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return -1
	}
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFDIR && kind != unix.S_IFREG {
		return -1
	}
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if kind == unix.S_IFDIR {
		flags |= unix.O_DIRECTORY
	}
	fd, err := unix.Openat(dirfd, name, flags, 0)
	if err != nil {
		return -1
	}
	if unix.Fstat(fd, st) != nil || st.Mode&unix.S_IFMT != kind {
		unix.Close(fd)
		return -1
	}
	return fd
}

// newDirFile wraps the directory descriptor fd (from openChild) for
// reading; rel names it in errors.
func newDirFile(fd int, rel string) *os.File {
	_ = unix.SetNonblock(fd, false) // directories do not need the poller
	return os.NewFile(uintptr(fd), rel)
}

// searchFile searches the regular file fd of size bytes and closes fd.
func (s *searcher) searchFile(fd int, size int64, rel string) error {
	defer unix.Close(fd)
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if size > s.maxSize {
		return nil
	}
	// Read what fstat promised; a file growing meanwhile is searched as it
	// was, one shrinking as it is.
	if int64(cap(s.buf)) < size {
		s.buf = make([]byte, size)
	}
	data := s.buf[:size]
	n := 0
	for n < len(data) {
		m, err := unix.Read(fd, data[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil
		}
		if m == 0 {
			break
		}
		n += m
	}
	s.searchData(data[:n], rel)
	if s.truncated {
		return errStop
	}
	return nil
}

// searchData appends the matches in data, the content of rel, until
// maxResults is exceeded.
func (s *searcher) searchData(data []byte, rel string) {
	if bytes.IndexByte(data[:min(len(data), binarySniffLen)], 0) >= 0 {
		return
	}
	if s.literal != nil && !bytes.Contains(data, s.literal) {
		return
	}
	// lower, when set, is data with ASCII letters lowered, offset for
	// offset, to skip lines that cannot match a case-insensitive literal
	// without running the slower case-folding regexp on them.
	var lower []byte
	switch {
	case s.foldLit != nil && !hasNonASCIIFolds(data):
		lower = asciiLower(s.lower[:0], data)
		s.lower = lower
		if !bytes.Contains(lower, s.foldLit) {
			return
		}
	case s.literal == nil && s.wholeFile:
		if !s.re.Match(data) {
			return
		}
	}
	off := 0
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		start := off
		off += len(line) + 1
		if lower != nil && !bytes.Contains(lower[start:start+len(line)], s.foldLit) {
			continue
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		locs := s.re.FindAllIndex(line, -1)
		if len(locs) == 0 {
			continue
		}
		text := matchText(line)
		for _, loc := range locs {
			if loc[0] == loc[1] {
				continue // empty matches tell nothing
			}
			if len(s.matches) == s.maxResults {
				s.truncated = true
				return
			}
			s.matches = append(s.matches, Match{
				Path:   rel,
				Line:   lineNo,
				Column: utf8.RuneCount(line[:loc[0]]) + 1,
				Text:   text,
			})
		}
	}
}

// matchText makes line valid UTF-8 and cuts it to MaxMatchText bytes on a
// character boundary.
func matchText(line []byte) string {
	text := strings.ToValidUTF8(string(line[:min(len(line), 4*MaxMatchText)]), "\uFFFD")
	if len(text) <= MaxMatchText {
		return text
	}
	cut := MaxMatchText
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut]
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasNonASCIIFolds reports whether data holds one of the two non-ASCII
// characters that case-fold to ASCII letters: U+212A KELVIN SIGN (k) and
// U+017F LATIN SMALL LETTER LONG S (s). Without them, ASCII lowering finds
// every case-insensitive match of an ASCII literal.
func hasNonASCIIFolds(data []byte) bool {
	return bytes.Contains(data, []byte("\u212A")) || bytes.Contains(data, []byte("\u017F"))
}

// asciiLower appends data to dst with ASCII letters lowered.
func asciiLower(dst, data []byte) []byte {
	dst = slices.Grow(dst, len(data))
	for _, b := range data {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst = append(dst, b)
	}
	return dst
}
