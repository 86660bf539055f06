// go_client HOST PORT: dials with Go's defaults (net.Dial: keep-alive on, 15 s idle and
// interval, set by Go's own setsockopt calls right after connect), reports the values the
// kernel holds, then reads until the peer closes (exit 0) or the connection fails (exit 1).
// Built with CGO_ENABLED=0: a static binary making its own system calls, out of LD_PRELOAD's
// reach.
package main

import (
	"fmt"
	"net"
	"os"

	"kashim/testprograms/conn"
)

const who = "go_client"

func main() {
	address := conn.Usage(who)
	connection, err := net.Dial("tcp", address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: dial: %v\n", who, err)
		os.Exit(1)
	}
	conn.Report(who, "connected", connection)
	os.Exit(conn.ReadUntilEnd(who, connection))
}
