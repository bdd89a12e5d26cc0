package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	if !q.Regex && q.CaseSensitive {
		s.literal = []byte(q.Text)
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
		var cf *os.File
		var isDir bool
		err := withFd(d, func(dirfd int) error {
			cf, isDir = openChild(dirfd, name, child)
			return nil
		})
		if err != nil {
			return err
		}
		if cf == nil {
			continue
		}
		if isDir {
			err = s.walkDir(cf, child)
		} else {
			err = s.searchFile(cf, child)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// openChild opens the directory or regular file name in dirfd without
// following symlinks, or returns nil for anything else. The type is checked
// before opening, so no device or fifo is opened, and again after.
func openChild(dirfd int, name, rel string) (file *os.File, isDir bool) {
	var st unix.Stat_t
	if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return nil, false
	}
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFDIR && kind != unix.S_IFREG {
		return nil, false
	}
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if kind == unix.S_IFDIR {
		flags |= unix.O_DIRECTORY
	}
	fd, err := unix.Openat(dirfd, name, flags, 0)
	if err != nil {
		return nil, false
	}
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != kind {
		unix.Close(fd)
		return nil, false
	}
	// Files and directories do not need the poller; reads stay plain.
	_ = unix.SetNonblock(fd, false)
	return os.NewFile(uintptr(fd), rel), kind == unix.S_IFDIR
}

func (s *searcher) searchFile(file *os.File, rel string) error {
	defer file.Close()
	if err := s.ctx.Err(); err != nil {
		return err
	}
	fi, err := file.Stat()
	if err != nil || fi.Size() > s.maxSize {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(file, s.maxSize+1))
	if err != nil || int64(len(data)) > s.maxSize {
		return nil
	}
	if bytes.IndexByte(data[:min(len(data), binarySniffLen)], 0) >= 0 {
		return nil
	}
	if s.literal != nil && !bytes.Contains(data, s.literal) {
		return nil
	}
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
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
				return errStop
			}
			s.matches = append(s.matches, Match{
				Path:   rel,
				Line:   lineNo,
				Column: utf8.RuneCount(line[:loc[0]]) + 1,
				Text:   text,
			})
		}
		if lineNo%4096 == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
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
