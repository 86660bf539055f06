// Package conn holds what go_client and go_server share: a report of the keep-alive values
// the kernel holds for a connection, and a read loop that waits for the peer to go away.
package conn

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// TCP_USER_TIMEOUT is not in Go's syscall package for every architecture.
const tcpUserTimeout = 0x12

func option(fd uintptr, level, name int) int {
	value, err := syscall.GetsockoptInt(int(fd), level, name)
	if err != nil {
		return -1
	}
	return value
}

// Report writes one line a test can parse: "<who>: <what> keepalive=1 idle=15 intvl=15
// cnt=9 user_timeout=0", the values read back from the kernel.
func Report(who, what string, conn net.Conn) {
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", who, err)
		return
	}
	raw.Control(func(fd uintptr) {
		fmt.Fprintf(os.Stderr, "%s: %s keepalive=%d idle=%d intvl=%d cnt=%d user_timeout=%d\n",
			who, what, option(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE),
			option(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE),
			option(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL),
			option(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT),
			option(fd, syscall.IPPROTO_TCP, tcpUserTimeout))
	})
}

// ReadUntilEnd reads until the peer closes (0) or the connection fails, for instance once
// keep-alive found the peer dead (1): the exit status.
func ReadUntilEnd(who string, conn net.Conn) int {
	buffer := make([]byte, 4096)
	for {
		_, err := conn.Read(buffer)
		if err == io.EOF {
			fmt.Fprintf(os.Stderr, "%s: end of stream\n", who)
			return 0
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: read: %v\n", who, err)
			return 1
		}
	}
}

// Usage checks for HOST PORT and returns them joined as Go's net package wants them.
func Usage(who string) string {
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: %s HOST PORT\n", who)
		os.Exit(2)
	}
	return net.JoinHostPort(os.Args[1], os.Args[2])
}
