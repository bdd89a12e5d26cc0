package playground

import (
	"bytes"
	"encoding/binary"
	"slices"
	"time"
)

// Programs run on fake time by default, as on the Go Playground: they are
// built with -tags=faketime, so the runtime starts the clock at FakeEpoch,
// lets time.Sleep return at once (advancing the clock) when nothing else
// can run, and precedes every write to stdout and stderr with a playback
// header carrying the clock. A run takes as long as its CPU needs, and its
// output carries the delays (Event.Delay) for the client to replay.

// FakeEpoch is when a fake-time program's clock starts: 2009-11-10
// 23:00:00 UTC, as on the Go Playground.
var FakeEpoch = time.Unix(1257894000, 0).UTC()

// fakeTimeTag is the build tag that makes the runtime keep fake time.
const fakeTimeTag = "-tags=faketime"

// playbackMagic starts a playback header; the header goes on with the
// fake time (nanoseconds since 1970, big-endian int64) and the length of
// the write that follows (big-endian uint32).
var playbackMagic = []byte{0, 0, 'P', 'B'}

const playbackHeaderLen = 4 + 8 + 4

// playback decodes one output stream ("stdout" or "stderr") of a
// fake-time program, as it arrives, into writes with their fake time for
// lim. Bytes outside a header's frame (a child process's, say) belong to
// the time of the frame before them; times never go back.
type playback struct {
	kind string
	lim  *outputLimit
	hdr  []byte    // the start of a header that has not all arrived
	left int64     // bytes of the current frame still to come
	at   time.Time // the current (or last) frame's time
}

func newPlayback(kind string, lim *outputLimit) *playback {
	return &playback{kind: kind, lim: lim, at: FakeEpoch}
}

// Write never fails (see kindWriter.Write).
func (d *playback) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if d.left > 0 {
			k := int(min(d.left, int64(len(p))))
			d.lim.write(d.kind, p[:k], d.at)
			d.left -= int64(k)
			p = p[k:]
			continue
		}
		if len(d.hdr) == 0 {
			// Text up to the next header, or up to a tail that may
			// begin one.
			j := bytes.Index(p, playbackMagic)
			if j < 0 {
				j = len(p) - magicPrefixAtEnd(p)
			}
			if j > 0 {
				d.lim.write(d.kind, p[:j], d.at)
				p = p[j:]
				continue
			}
		}
		k := min(playbackHeaderLen-len(d.hdr), len(p))
		d.hdr = append(d.hdr, p[:k]...)
		p = p[k:]
		if m := min(len(d.hdr), len(playbackMagic)); !bytes.Equal(d.hdr[:m], playbackMagic[:m]) {
			// Not a header after all: its first byte is text, and a
			// header may start in the rest, which is read again.
			d.lim.write(d.kind, d.hdr[:1], d.at)
			p = append(d.hdr[1:len(d.hdr):len(d.hdr)], p...)
			d.hdr = nil
			continue
		}
		if len(d.hdr) < playbackHeaderLen {
			continue
		}
		t := time.Unix(0, int64(binary.BigEndian.Uint64(d.hdr[4:12]))).UTC()
		if t.After(d.at) {
			d.at = t
		}
		d.left = int64(binary.BigEndian.Uint32(d.hdr[12:16]))
		d.hdr = d.hdr[:0]
	}
	return n, nil
}

// magicPrefixAtEnd is the length of the longest tail of p that is a
// proper prefix of playbackMagic.
func magicPrefixAtEnd(p []byte) int {
	for k := min(len(playbackMagic)-1, len(p)); k > 0; k-- {
		if bytes.Equal(p[len(p)-k:], playbackMagic[:k]) {
			return k
		}
	}
	return 0
}

// timedOutput is one write of a program with its time: the fake time of
// a fake-time program, the wall clock otherwise.
type timedOutput struct {
	kind string
	msg  []byte
	at   time.Time
}

// fakeTimeEvents turns the writes of a fake-time program into the Go
// Playground's events: in the order of their fake time (the runtime moves
// the clock on by a nanosecond whenever a write goes to the other stream,
// so this is the order they were written in), writes of one stream at one
// time joined, each with its delay since the last event that came later
// than the one before it.
func fakeTimeEvents(out []timedOutput) []Event {
	slices.SortStableFunc(out, func(a, b timedOutput) int { return a.at.Compare(b.at) })
	var events []Event
	now, last := FakeEpoch, time.Time{}
	for _, o := range out {
		if n := len(events); n > 0 && events[n-1].Kind == o.kind && o.at.Equal(last) {
			events[n-1].Message += string(o.msg)
			continue
		}
		delay := max(o.at.Sub(now), 0)
		if delay > 0 {
			now = o.at
		}
		last = o.at
		events = append(events, Event{Message: string(o.msg), Kind: o.kind, Delay: delay})
	}
	return events
}
