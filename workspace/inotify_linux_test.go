package workspace

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDecodeInotify(t *testing.T) {
	t.Parallel()
	record := func(wd int32, mask uint32, name string) []byte {
		n := 0
		if name != "" {
			n = (len(name) + 1 + 15) &^ 15 // NUL-terminated, padded
		}
		b := make([]byte, unix.SizeofInotifyEvent+n)
		binary.NativeEndian.PutUint32(b[0:], uint32(wd))
		binary.NativeEndian.PutUint32(b[4:], mask)
		binary.NativeEndian.PutUint32(b[12:], uint32(n))
		copy(b[unix.SizeofInotifyEvent:], name)
		return b
	}
	var buf []byte
	buf = append(buf, record(1, unix.IN_CREATE, "new.go")...)
	buf = append(buf, record(2, unix.IN_MOVED_TO|unix.IN_ISDIR, "dir")...)
	buf = append(buf, record(1, unix.IN_MOVED_FROM, "a-long-name-of-more-than-sixteen-bytes")...)
	buf = append(buf, record(1, unix.IN_ATTRIB, "m")...)
	buf = append(buf, record(-1, unix.IN_Q_OVERFLOW, "")...)
	buf = append(buf, record(3, unix.IN_IGNORED, "")...)
	buf = append(buf, record(1, unix.IN_OPEN, "x")...) // not asked for: dropped
	buf = append(buf, record(1, unix.IN_CREATE, "truncated")[:20]...)
	got := decodeInotify(buf)
	want := []rawEvent{
		{wd: 1, name: "new.go", op: opCreate},
		{wd: 2, name: "dir", op: opCreate, dir: true},
		{wd: 1, name: "a-long-name-of-more-than-sixteen-bytes", op: opRemove},
		{wd: 1, name: "m", op: opWrite},
		{wd: -1, op: opOverflow},
		{wd: 3, op: opIgnored},
	}
	if len(got) != len(want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
