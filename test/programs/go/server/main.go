// go_server HOST PORT: listens with Go's defaults (PORT 0: the kernel picks one), reports
// the port, accepts one connection (Go turns keep-alive on with 15 s idle and interval right
// after accept), reports the values the kernel holds, then reads until the peer closes
// (exit 0) or the connection fails (exit 1). Built with CGO_ENABLED=0: static.
package main

import (
	"fmt"
	"net"
	"os"

	"kashim/testprograms/conn"
)

const who = "go_server"

func main() {
	address := conn.Usage(who)
	listener, err := net.Listen("tcp", address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: listen: %v\n", who, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%s: listening on port %d\n", who, listener.Addr().(*net.TCPAddr).Port)
	connection, err := listener.Accept()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: accept: %v\n", who, err)
		os.Exit(1)
	}
	listener.Close()
	conn.Report(who, "accepted", connection)
	os.Exit(conn.ReadUntilEnd(who, connection))
}
