package playground

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// frame is a playback header for n bytes at fake time at, then data.
func frame(at time.Time, data string) string {
	h := make([]byte, playbackHeaderLen)
	copy(h, playbackMagic)
	binary.BigEndian.PutUint64(h[4:], uint64(at.UnixNano()))
	binary.BigEndian.PutUint32(h[12:], uint32(len(data)))
	return string(h) + data
}

type collect struct{ got []timedOutput }

func (c *collect) write(kind string, p []byte, at time.Time) {
	if n := len(c.got); n > 0 && c.got[n-1].at.Equal(at) {
		c.got[n-1].msg = append(c.got[n-1].msg, p...)
		return
	}
	c.got = append(c.got, timedOutput{kind: kind, msg: append([]byte(nil), p...), at: at})
}

// TestPlayback: the decoder gives each frame's data its time whatever the
// chunks the stream arrives in (one byte at a time, random sizes, whole),
// keeps text outside frames (also a partial magic at a chunk's end, and
// bytes that begin like a header and are not one) at the time before it,
// never lets time go back, and counts only data against the limit.
func TestPlayback(t *testing.T) {
	t0 := FakeEpoch
	stream := "before\x00" + frame(t0.Add(time.Second), "one\n") + "\x00\x00P" + "text\x00\x00" +
		frame(t0.Add(3*time.Second), "two\n") + frame(t0.Add(2*time.Second), "back\n") + frame(t0.Add(4*time.Second), "")
	want := []struct {
		msg string
		at  time.Duration
	}{
		{"before\x00", 0},
		{"one\n\x00\x00Ptext\x00\x00", time.Second},
		{"two\nback\n", 3 * time.Second},
	}
	chunkings := map[string]func(int) int{
		"whole":  func(n int) int { return n },
		"bytes":  func(int) int { return 1 },
		"random": func(n int) int { return 1 + rand.IntN(n) },
	}
	for name, size := range chunkings {
		t.Run(name, func(t *testing.T) {
			c := &collect{}
			lim := &outputLimit{max: 1 << 20, sink: c, over: func() { t.Error("over the limit") }}
			d := newPlayback("stdout", lim)
			for rest := stream; rest != ""; {
				k := min(size(len(rest)), len(rest))
				if n, err := d.Write([]byte(rest[:k])); n != k || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				rest = rest[k:]
			}
			if len(c.got) != len(want) {
				t.Fatalf("got %d writes %+v, want %d", len(c.got), c.got, len(want))
			}
			var data int
			for i, w := range want {
				g := c.got[i]
				if string(g.msg) != w.msg || !g.at.Equal(t0.Add(w.at)) || g.kind != "stdout" {
					t.Errorf("write %d = %q at %v, want %q at +%v", i, g.msg, g.at.Sub(t0), w.msg, w.at)
				}
				data += len(w.msg)
			}
			if lim.n != int64(data) {
				t.Errorf("the limit counted %d bytes, want %d", lim.n, data)
			}
		})
	}
}

// TestPlaybackFalseStart: a chunk that ends like the start of a header,
// then one that goes on otherwise, is all text.
func TestPlaybackFalseStart(t *testing.T) {
	c := &collect{}
	d := newPlayback("stderr", &outputLimit{max: 1 << 20, sink: c, over: func() {}})
	for _, chunk := range []string{"x\x00", "\x00QRSTUVWXYZabcdefghij"} {
		_, _ = d.Write([]byte(chunk))
	}
	if len(c.got) != 1 || string(c.got[0].msg) != "x\x00\x00QRSTUVWXYZabcdefghij" || !c.got[0].at.Equal(FakeEpoch) {
		t.Fatalf("got %+v", c.got)
	}
}

// TestFakeTimeEvents: writes of two streams are ordered by fake time,
// writes of one stream at one time join, and each event's delay is the
// time since the last event that came later than the one before.
func TestFakeTimeEvents(t *testing.T) {
	t0 := FakeEpoch
	events := fakeTimeEvents([]timedOutput{
		{"stdout", []byte("a"), t0},
		{"stdout", []byte("b"), t0},
		{"stdout", []byte("d"), t0.Add(2 * time.Second)},
		{"stderr", []byte("c"), t0.Add(time.Second)},
		{"stderr", []byte("e"), t0.Add(2*time.Second + 1)},
	})
	var got []string
	for _, e := range events {
		got = append(got, e.Kind+":"+e.Message+"@"+e.Delay.String())
	}
	if want := "stdout:ab@0s stderr:c@1s stdout:d@1s stderr:e@1ns"; strings.Join(got, " ") != want {
		t.Errorf("events %q, want %q", strings.Join(got, " "), want)
	}
}
