// Command relay is the benchmark's yamux peer: frp's engine in miniature (a Go relay on hashicorp/yamux over one
// plain TCP connection, with the 6 MiB stream window frp sets since v0.50), so bench/run can put the tunnel beside it.
//
//	relay hub   -agents 127.0.0.1:P -listen name=127.0.0.1:Q[,name=...]
//	relay agent -hub 127.0.0.1:P -target name=127.0.0.1:R[,name=...]
//	relay verify -addr 127.0.0.1:Q -bytes 50000000
//
// The hub side accepts one agent connection at a time and opens a yamux stream per client of a listener; the stream
// starts with one byte of length and the connector's name. The agent side dials the hub, accepts streams and dials
// the named target per stream. Both relay bytes each way with half-close. verify sends pseudo-random bytes to an
// echo service through the relay, half-closes, and checks that what comes back is the same, byte for byte.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

const window = 6 * 1024 * 1024

func config() *yamux.Config {
	c := yamux.DefaultConfig()
	c.MaxStreamWindowSize = window
	c.AcceptBacklog = 4096
	c.LogOutput = io.Discard
	return c
}

func pairs(spec string) map[string]string {
	m := map[string]string{}
	for _, p := range strings.Split(spec, ",") {
		if p == "" {
			continue
		}
		kv := strings.SplitN(p, "=", 2)
		if len(kv) != 2 {
			log.Fatalf("bad name=host:port pair %q", p)
		}
		m[kv[0]] = kv[1]
	}
	return m
}

type halfCloser interface {
	CloseWrite() error
}

// pipe copies src to dst, then ends dst's writing side (FIN for TCP, a yamux FIN for a stream).
func pipe(dst io.WriteCloser, src io.Reader, done *sync.WaitGroup) {
	defer done.Done()
	buf := make([]byte, 32*1024)
	io.CopyBuffer(dst, src, buf)
	if hc, ok := dst.(halfCloser); ok {
		hc.CloseWrite()
	} else {
		dst.Close() // a yamux stream's Close is its half-close
	}
}

func relay(a net.Conn, b net.Conn) {
	var done sync.WaitGroup
	done.Add(2)
	go pipe(a, b, &done)
	go pipe(b, a, &done)
	done.Wait()
	a.Close()
	b.Close()
}

func hub(agents string, listen map[string]string) {
	al, err := net.Listen("tcp", agents)
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	var session *yamux.Session
	for name, addr := range listen {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		go func(name string, l net.Listener) {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				s := session
				mu.Unlock()
				go func() {
					if s == nil {
						c.Close()
						return
					}
					st, err := s.OpenStream()
					if err != nil {
						c.Close()
						return
					}
					if _, err := st.Write(append([]byte{byte(len(name))}, name...)); err != nil {
						st.Close()
						c.Close()
						return
					}
					relay(c, st)
				}()
			}
		}(name, l)
	}
	fmt.Println("ready")
	for {
		c, err := al.Accept()
		if err != nil {
			log.Fatal(err)
		}
		s, err := yamux.Server(c, config())
		if err != nil {
			log.Fatal(err)
		}
		mu.Lock()
		if session != nil {
			session.Close()
		}
		session = s
		mu.Unlock()
	}
}

func agent(hubAddr string, targets map[string]string) {
	c, err := net.Dial("tcp", hubAddr)
	if err != nil {
		log.Fatal(err)
	}
	s, err := yamux.Client(c, config())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready")
	for {
		st, err := s.AcceptStream()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			r := bufio.NewReader(st)
			n, err := r.ReadByte()
			name := make([]byte, n)
			if err == nil {
				_, err = io.ReadFull(r, name)
			}
			target, ok := targets[string(name)]
			if err != nil || !ok {
				st.Close()
				return
			}
			t, err := net.Dial("tcp", target)
			if err != nil {
				st.Close()
				return
			}
			// what the reader buffered after the name belongs to the target
			if k := r.Buffered(); k > 0 {
				head, _ := r.Peek(k)
				t.Write(head)
				r.Discard(k)
			}
			relay(t, st)
		}()
	}
}

func verify(addr string, size int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	sent := sha256.New()
	var werr error
	go func() {
		buf := make([]byte, 64*1024)
		for left := size; left > 0; {
			n := len(buf)
			if left < n {
				n = left
			}
			rng.Read(buf[:n])
			sent.Write(buf[:n])
			if _, err := c.Write(buf[:n]); err != nil {
				werr = err
				return
			}
			left -= n
		}
		c.(*net.TCPConn).CloseWrite()
	}()
	got := sha256.New()
	n, err := io.Copy(got, c)
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	if n != int64(size) {
		return fmt.Errorf("echo returned %d of %d bytes", n, size)
	}
	if !bytes.Equal(sent.Sum(nil), got.Sum(nil)) {
		return errors.New("echo returned other bytes")
	}
	fmt.Printf("verified: %d bytes echoed byte for byte\n", size)
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: relay hub|agent|verify [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	agents := fs.String("agents", "", "hub: address the agent connects to")
	listen := fs.String("listen", "", "hub: name=host:port listeners")
	hubAddr := fs.String("hub", "", "agent: the hub's agent address")
	target := fs.String("target", "", "agent: name=host:port targets")
	addr := fs.String("addr", "", "verify: a listener whose target echoes")
	size := fs.Int("bytes", 50_000_000, "verify: bytes to echo")
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "hub":
		hub(*agents, pairs(*listen))
	case "agent":
		agent(*hubAddr, pairs(*target))
	case "verify":
		if err := verify(*addr, *size); err != nil {
			fmt.Fprintln(os.Stderr, "verify:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: relay hub|agent|verify [flags]")
		os.Exit(2)
	}
}
