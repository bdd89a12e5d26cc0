package terminal

// ring is a byte ring with absolute offsets: end is the number of bytes ever
// written, and the last min(end, size) of them are retained. Its buffer
// grows on demand up to size, so an idle terminal costs little. Not safe for
// concurrent use; Session guards it.
type ring struct {
	buf  []byte // len(buf) <= size; once len == size it is used circularly
	size int
	end  int64
}

func newRing(size int) *ring { return &ring{size: size} }

// start is the offset of the oldest retained byte.
func (r *ring) start() int64 {
	if s := r.end - int64(len(r.buf)); s > 0 {
		return s
	}
	return 0
}

// write appends p, dropping the oldest bytes beyond size.
func (r *ring) write(p []byte) {
	if len(p) >= r.size {
		// Keep only the tail; the buffer becomes full.
		if len(r.buf) < r.size {
			r.buf = append(r.buf[:0], make([]byte, r.size)...)
		}
		r.end += int64(len(p))
		tail := p[len(p)-r.size:]
		pos := int(r.end % int64(r.size))
		n := copy(r.buf[pos:], tail)
		copy(r.buf, tail[n:])
		return
	}
	if len(r.buf) < r.size {
		room := r.size - len(r.buf)
		if len(p) <= room {
			if cap(r.buf)-len(r.buf) < len(p) {
				// Grow by doubling, capped at size, so an idle terminal stays small.
				c := max(2*cap(r.buf), len(r.buf)+len(p), 4096)
				nb := make([]byte, len(r.buf), min(c, r.size))
				copy(nb, r.buf)
				r.buf = nb
			}
			r.buf = append(r.buf, p...)
			r.end += int64(len(p))
			return
		}
		// Fill up to size, then continue circularly. Because end == len(buf)
		// until the buffer is full, offsets map to end % size from here on.
		nb := make([]byte, r.size)
		copy(nb, r.buf)
		copy(nb[len(r.buf):], p[:room])
		r.buf = nb
		r.end += int64(room)
		p = p[room:]
	}
	pos := int(r.end % int64(r.size))
	n := copy(r.buf[pos:], p)
	copy(r.buf, p[n:])
	r.end += int64(len(p))
}

// read copies bytes from offset off into p and returns how many it copied.
// off must be within [start, end].
func (r *ring) read(off int64, p []byte) int {
	avail := r.end - off
	if avail <= 0 {
		return 0
	}
	n := int(min(avail, int64(len(p))))
	if len(r.buf) < r.size {
		// Not yet circular: offset == index.
		return copy(p[:n], r.buf[off:])
	}
	pos := int(off % int64(r.size))
	c := copy(p[:n], r.buf[pos:])
	copy(p[c:n], r.buf)
	return n
}
