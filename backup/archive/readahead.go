package archive

import (
	"io"
)

// readAhead decompresses in a goroutine of its own, up to n buffers ahead
// of its reader, so that decompressing and what the reader does with the
// bytes (hashing every member) run on two CPUs. It owns the decoder: the
// goroutine closes it when it stops.
type readAhead struct {
	full chan []byte // filled buffers, in order; closed after the last
	free chan []byte
	done chan struct{} // closed by Close: stop reading
	cur  []byte        // the unread rest of the buffer being read
	held []byte        // that buffer, whole, to give back
	err  error         // the source's error, written before full is closed
}

func newReadAhead(src io.Reader, closeSrc func(), size, n int) *readAhead {
	a := &readAhead{full: make(chan []byte, n), free: make(chan []byte, n), done: make(chan struct{})}
	for range n {
		a.free <- make([]byte, size)
	}
	go func() {
		defer closeSrc()
		defer close(a.full)
		for {
			var b []byte
			select {
			case b = <-a.free:
			case <-a.done:
				return
			}
			// Fill the buffer; the source's error (io.EOF, or the
			// decoder's io.ErrUnexpectedEOF for a cut stream) is passed on
			// as it is, after the bytes read before it.
			k := 0
			var err error
			for k < len(b) && err == nil {
				var n int
				n, err = src.Read(b[k:])
				k += n
			}
			if k > 0 {
				select {
				case a.full <- b[:k]:
				case <-a.done:
					return
				}
			}
			if err != nil {
				a.err = err
				return
			}
		}
	}()
	return a
}

func (a *readAhead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.held != nil {
			a.free <- a.held[:cap(a.held)]
			a.held = nil
		}
		b, ok := <-a.full
		if !ok {
			return 0, a.err
		}
		a.cur, a.held = b, b
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops the goroutine; it closes the decoder when it is done with it.
func (a *readAhead) Close() { close(a.done) }
