// Command gocacheprog is the build cache of sandboxed builds (playground
// runs, users' gopls, dlv and terminals): a GOCACHEPROG program (the
// protocol of cmd/go/internal/cacheprog, Go 1.24+) that answers "get" from
// a read-only directory in the go command's own disk cache layout,
// prepared by the server, and keeps everything a build "put"s in a
// writable directory of the caller's own (a playground run's, which dies
// with it, or a user's GOCACHE, which it trims as the go command would:
// entries unused for five days go, at most once a day).
//
//	gocacheprog -ro /gocache -rw /tmp/gocache-rw
//
// A shared cache the go command writes directly cannot be read-only (it
// opens entries for writing and touches their times), and bubblewrap has
// no overlay mount; this program is what lets many builds share one
// prebuilt standard library that none of them can change.
//
// The program uses the standard library only: package buildcache
// embeds this file and the server builds it with the Go toolchain it runs
// builds with (see buildcache.BuildProgram).
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// hashSize is the size of action and output ids (SHA-256).
const hashSize = 32

// entrySize is the size of an action entry file of the go command's disk
// cache: "v1 <hex id> <hex out> <size, 20 wide> <unix nanos, 20 wide>\n".
const entrySize = 2 + 1 + 2*hashSize + 1 + 2*hashSize + 1 + 20 + 1 + 20 + 1

// request is cacheprog.Request as it arrives on stdin.
type request struct {
	ID       int64
	Command  string
	ActionID []byte `json:",omitempty"`
	OutputID []byte `json:",omitempty"`
	BodySize int64  `json:",omitempty"`
}

// response is cacheprog.Response as it leaves on stdout.
type response struct {
	ID            int64
	Err           string     `json:",omitempty"`
	KnownCommands []string   `json:",omitempty"`
	Miss          bool       `json:",omitempty"`
	OutputID      []byte     `json:",omitempty"`
	Size          int64      `json:",omitempty"`
	Time          *time.Time `json:",omitempty"`
	DiskPath      string     `json:",omitempty"`
}

func main() {
	ro, rw, ok := parseArgs(os.Args[1:])
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: gocacheprog [-ro DIR] -rw DIR (absolute paths)")
		os.Exit(2)
	}
	if err := serve(os.Stdin, os.Stdout, ro, rw); err != nil {
		fmt.Fprintln(os.Stderr, "gocacheprog:", err)
		os.Exit(1)
	}
}

// parseArgs reads "-ro DIR" (optional: a missing or empty directory is an
// empty cache) and "-rw DIR" (created when missing), both absolute. The
// repository's rules keep package flag to the server's command.
func parseArgs(args []string) (ro, rw string, ok bool) {
	for len(args) >= 2 {
		switch args[0] {
		case "-ro":
			ro = args[1]
		case "-rw":
			rw = args[1]
		default:
			return "", "", false
		}
		args = args[2:]
	}
	ok = len(args) == 0 && filepath.IsAbs(rw) && (ro == "" || filepath.IsAbs(ro))
	return ro, rw, ok
}

// serve answers the go command's requests on in, writing responses to out,
// until a "close" request or the end of in.
func serve(in io.Reader, out io.Writer, ro, rw string) error {
	if err := os.MkdirAll(rw, 0o700); err != nil {
		return err
	}
	c := &cache{ro: ro, rw: rw}
	br := bufio.NewReaderSize(in, 64<<10)
	bw := bufio.NewWriter(out)
	enc := json.NewEncoder(bw)
	send := func(r *response) error {
		if err := enc.Encode(r); err != nil {
			return err
		}
		return bw.Flush()
	}
	if err := send(&response{KnownCommands: []string{"get", "put", "close"}}); err != nil {
		return err
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 {
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			continue // the go command writes an empty line after each request
		}
		var req request
		if err := json.Unmarshal(line, &req); err != nil {
			return fmt.Errorf("bad request: %w", err)
		}
		var res *response
		switch req.Command {
		case "get":
			res = c.get(req.ActionID)
		case "put":
			res = c.put(req, br)
		case "close":
			c.trim(time.Now())
			return send(&response{ID: req.ID})
		default:
			res = &response{Err: "unknown command " + strconv.Quote(req.Command)}
		}
		res.ID = req.ID
		if err := send(res); err != nil {
			return err
		}
	}
}

// cache is the pair of directories.
type cache struct {
	ro, rw string
}

// fileName is the go command's name of id's file of kind ("a" or "d") in
// dir.
func fileName(dir string, id []byte, kind string) string {
	return filepath.Join(dir, fmt.Sprintf("%02x", id[0]), hex.EncodeToString(id)+"-"+kind)
}

// get looks id up in the read-only directory, then the writable one. A
// hit in the writable one marks its files used (see trim).
func (c *cache) get(id []byte) *response {
	if len(id) != hashSize {
		return &response{Err: "get: bad action id"}
	}
	for _, dir := range []string{c.ro, c.rw} {
		if dir == "" {
			continue
		}
		if res, ok := lookup(dir, id); ok {
			if dir == c.rw {
				used(fileName(dir, id, "a"), time.Now())
				used(fileName(dir, res.OutputID, "d"), time.Now()) // a file, or a cached executable's directory
			}
			return res
		}
	}
	return &response{Miss: true}
}

// The writable directory is trimmed as the go command trims its own
// cache, which it does not do through a cache program: entries unused
// for trimLimit are removed, at most once per trimInterval (recorded in
// trim.txt, in the go command's format, so either may trim it), and a
// hit marks an entry used by moving its mtime forward once per
// mtimeInterval.
const (
	mtimeInterval = time.Hour
	trimInterval  = 24 * time.Hour
	trimLimit     = 5 * 24 * time.Hour
)

// used moves name's mtime to now when it is older than mtimeInterval.
func used(name string, now time.Time) {
	if fi, err := os.Stat(name); err == nil && now.Sub(fi.ModTime()) >= mtimeInterval {
		_ = os.Chtimes(name, now, now)
	}
}

// trim removes the writable directory's entries unused for trimLimit,
// unless it was trimmed within trimInterval. Errors are ignored: a file
// left is trimmed next time.
func (c *cache) trim(now time.Time) {
	stamp := filepath.Join(c.rw, "trim.txt")
	if data, err := os.ReadFile(stamp); err == nil {
		if t, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64); err == nil {
			if d := now.Sub(time.Unix(t, 0)); d < trimInterval && d > -mtimeInterval {
				return
			}
		}
	}
	cutoff := now.Add(-trimLimit)
	for i := range 256 {
		sub := filepath.Join(c.rw, fmt.Sprintf("%02x", i))
		ents, err := os.ReadDir(sub)
		if err != nil {
			continue
		}
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil || !fi.ModTime().Before(cutoff) {
				continue
			}
			if e.IsDir() {
				_ = os.RemoveAll(filepath.Join(sub, e.Name())) // a cached executable's directory
			} else {
				_ = os.Remove(filepath.Join(sub, e.Name()))
			}
		}
	}
	_ = os.WriteFile(stamp, []byte(strconv.FormatInt(now.Unix(), 10)), 0o600)
}

// lookup reads id's entry in dir and checks its output file; ok is false
// for anything missing, malformed or incomplete.
func lookup(dir string, id []byte) (*response, bool) {
	data, err := readSmall(fileName(dir, id, "a"), entrySize+1)
	if err != nil || len(data) != entrySize {
		return nil, false
	}
	out, size, tm, ok := parseEntry(data, id)
	if !ok {
		return nil, false
	}
	path := fileName(dir, out, "d")
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false
	}
	if fi.IsDir() { // a cached executable: the directory holds it alone
		ents, err := os.ReadDir(path)
		if err != nil || len(ents) != 1 {
			return nil, false
		}
		path = filepath.Join(path, ents[0].Name())
		if fi, err = os.Stat(path); err != nil {
			return nil, false
		}
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return nil, false
	}
	t := time.Unix(0, tm)
	return &response{OutputID: out, Size: size, Time: &t, DiskPath: path}, true
}

// readSmall reads at most max bytes of name.
func readSmall(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// parseEntry checks an action entry file against id and returns its
// output id, size and time (as the go command's DiskCache.get does).
func parseEntry(e, id []byte) (out []byte, size, tm int64, ok bool) {
	const h = 2 * hashSize
	if e[0] != 'v' || e[1] != '1' || e[2] != ' ' || e[3+h] != ' ' || e[3+h+1+h] != ' ' || e[3+h+1+h+1+20] != ' ' || e[entrySize-1] != '\n' {
		return nil, 0, 0, false
	}
	eid, err := hex.DecodeString(string(e[3 : 3+h]))
	if err != nil || !bytes.Equal(eid, id) {
		return nil, 0, 0, false
	}
	out, err = hex.DecodeString(string(e[3+h+1 : 3+h+1+h]))
	if err != nil {
		return nil, 0, 0, false
	}
	num := func(b []byte) (int64, bool) {
		n, err := strconv.ParseInt(string(bytes.TrimLeft(b, " ")), 10, 64)
		return n, err == nil && n >= 0
	}
	rest := e[3+h+1+h+1:]
	size, ok1 := num(rest[:20])
	tm, ok2 := num(rest[21:41])
	return out, size, tm, ok1 && ok2
}

// put stores the body that follows req on br (a base64 JSON string when
// BodySize > 0) in the writable directory, and records it under the
// action id.
func (c *cache) put(req request, br *bufio.Reader) *response {
	fail := func(err error) *response { return &response{Err: "put: " + err.Error()} }
	if req.BodySize < 0 {
		return fail(errors.New("negative body size"))
	}
	// The body is read in full whatever else is wrong: the stream must
	// stay in step.
	tmp, n, sum, err := c.receive(br, req.BodySize)
	if tmp != "" {
		defer os.Remove(tmp) // finds nothing after the rename
	}
	switch {
	case err != nil:
		return fail(err)
	case len(req.ActionID) != hashSize || len(req.OutputID) != hashSize:
		return fail(errors.New("bad action or output id"))
	case n != req.BodySize:
		return fail(fmt.Errorf("body is %d bytes, not %d", n, req.BodySize))
	case !bytes.Equal(sum, req.OutputID):
		return fail(errors.New("body does not match its output id"))
	}
	path := fileName(c.rw, req.OutputID, "d")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	entry := fmt.Sprintf("v1 %x %x %20d %20d\n", req.ActionID, req.OutputID, n, time.Now().UnixNano())
	apath := fileName(c.rw, req.ActionID, "a")
	if err := os.MkdirAll(filepath.Dir(apath), 0o700); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(apath, []byte(entry), 0o600); err != nil {
		return fail(err)
	}
	return &response{DiskPath: path}
}

// receive writes the body of a put to a new file in the writable
// directory and returns its name, length and SHA-256. With size 0 there is
// no body on the stream and the file is empty.
func (c *cache) receive(br *bufio.Reader, size int64) (name string, n int64, sum []byte, err error) {
	f, err := os.CreateTemp(c.rw, ".put-")
	if err != nil {
		if size > 0 {
			_ = skipBody(br)
		}
		return "", 0, nil, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	if size > 0 {
		if err := expectQuote(br); err != nil {
			return f.Name(), 0, nil, err
		}
		body := &untilQuote{r: br}
		n, err = io.Copy(io.MultiWriter(f, h), base64.NewDecoder(base64.StdEncoding, body))
		if err == nil && !body.done {
			_, err = io.Copy(io.Discard, body) // a body longer than its padding says
		}
		if err != nil {
			if !body.done {
				_ = skipBody(br)
			}
			return f.Name(), n, nil, err
		}
	}
	return f.Name(), n, h.Sum(nil), nil
}

// expectQuote skips white space up to the opening quote of a body.
func expectQuote(br *bufio.Reader) error {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return err
		}
		switch b {
		case ' ', '\n', '\r', '\t':
			continue
		case '"':
			return nil
		default:
			return errors.New("body does not start with a quote")
		}
	}
}

// skipBody discards the rest of a body up to and including its closing
// quote.
func skipBody(br *bufio.Reader) error {
	_, err := br.ReadBytes('"')
	return err
}

// untilQuote reads from r up to (and consuming) the next '"'.
type untilQuote struct {
	r    *bufio.Reader
	done bool
}

func (u *untilQuote) Read(p []byte) (int, error) {
	if u.done {
		return 0, io.EOF
	}
	buf, err := u.r.Peek(min(len(p), max(1, u.r.Buffered())))
	if len(buf) == 0 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	if i := bytes.IndexByte(buf, '"'); i >= 0 {
		n := copy(p, buf[:i])
		_, _ = u.r.Discard(i + 1)
		u.done = true
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
	n := copy(p, buf)
	_, _ = u.r.Discard(n)
	return n, nil
}
