package playground

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/tools/txtar"
)

// progName is the name of the first, unnamed section of a txtar body.
const progName = "prog.go"

// MaxFiles is the most files a body may hold, as in golang/playground.
const MaxFiles = 20

// ErrInvalidFiles is wrapped by every error of [SplitFiles]. The message
// after it is meant for the user: it names only what the body holds.
var ErrInvalidFiles = errors.New("invalid files")

// FileSet is an ordered set of files of a snippet: prog.go (when present)
// first, then the txtar sections in order.
type FileSet struct {
	names []string
	data  map[string][]byte
}

// Names returns the file names in order.
func (fs *FileSet) Names() []string { return fs.names }

// Data returns the content of name, or nil.
func (fs *FileSet) Data(name string) []byte { return fs.data[name] }

// Num returns the number of files.
func (fs *FileSet) Num() int { return len(fs.names) }

// Contains reports whether name is in the set.
func (fs *FileSet) Contains(name string) bool { _, ok := fs.data[name]; return ok }

// Add adds or replaces name.
func (fs *FileSet) Add(name string, data []byte) {
	if fs.data == nil {
		fs.data = make(map[string][]byte)
	}
	if _, ok := fs.data[name]; !ok {
		fs.names = append(fs.names, name)
	}
	fs.data[name] = data
}

// Rename moves the file from to to (keeping its position).
func (fs *FileSet) Rename(from, to string) {
	for i, n := range fs.names {
		if n == from {
			fs.names[i] = to
		}
	}
	fs.data[to] = fs.data[from]
	delete(fs.data, from)
}

// Format returns the set as one body: prog.go alone as plain source, or a
// txtar archive whose unnamed first section is prog.go.
func (fs *FileSet) Format() []byte {
	if fs.Num() == 1 && fs.Contains(progName) {
		return fs.data[progName]
	}
	var buf bytes.Buffer
	for i, name := range fs.names {
		data := fs.data[name]
		if i > 0 || name != progName {
			fmt.Fprintf(&buf, "-- %s --\n", name)
		}
		buf.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

// SplitFiles splits a body into files: plain Go source is prog.go; a txtar
// archive's comment (when not blank) is prog.go and each section a file
// (prog.go may also be a section, anywhere, when there is no comment). At
// most [MaxFiles] files; names must be relative, slash-separated, printable
// ASCII without "." or ".." segments, unique, and no file may be another's
// directory. The error wraps [ErrInvalidFiles].
func SplitFiles(src []byte) (*FileSet, error) {
	fs := new(FileSet)
	a := txtar.Parse(src)
	if len(bytes.TrimSpace(a.Comment)) > 0 {
		fs.Add(progName, a.Comment)
	}
	if n := len(a.Files) + fs.Num(); n > MaxFiles {
		return nil, fmt.Errorf("%w: too many files in txtar archive (%d exceeds limit of %d)", ErrInvalidFiles, n, MaxFiles)
	}
	for _, f := range a.Files {
		if len(f.Name) > 200 {
			return nil, fmt.Errorf("%w: file name too long", ErrInvalidFiles)
		}
		if !validName(f.Name) {
			return nil, fmt.Errorf("%w: invalid file name %q", ErrInvalidFiles, f.Name)
		}
		if fs.Contains(f.Name) {
			// Also an explicit prog.go after source before the first
			// section, which is prog.go.
			return nil, fmt.Errorf("%w: duplicate file name %q", ErrInvalidFiles, f.Name)
		}
		fs.Add(f.Name, f.Data)
	}
	for _, name := range fs.names {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if fs.Contains(dir) {
				return nil, fmt.Errorf("%w: %q is a file and the directory of %q", ErrInvalidFiles, dir, name)
			}
		}
	}
	if fs.Num() == 0 {
		return nil, fmt.Errorf("%w: the body holds no source", ErrInvalidFiles)
	}
	return fs, nil
}

// validName reports whether name is a safe relative file name.
func validName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return false
	}
	for _, r := range name {
		if r >= utf8.RuneSelf || !unicode.IsPrint(r) || r == '\\' || r == ':' {
			return false
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return path.Clean(name) == name
}
