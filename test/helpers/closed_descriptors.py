#!/usr/bin/env python3
"""closed_descriptors.py FD[,FD...] [LAUNCHER...]: runs LAUNCHER followed by a shell that
closes its descriptors FD (each a pipe this script reads; 1 and 2 are its stdout and stderr)
and then waits for a line on its standard input. Prints, for each FD, whether its pipe ended
while the program still ran ("fd N: ended") or not within 10 s ("fd N: still open"), then
lets the program finish. Without kashim every pipe ends: the shell was its only writer."""
import os
import select
import subprocess
import sys

fds = [int(fd) for fd in sys.argv[1].split(",")]
launcher = sys.argv[2:]
readers, writers, redirect = {}, [], {1: subprocess.DEVNULL, 2: None}
for fd in fds:
    read_end, write_end = os.pipe()
    readers[fd] = read_end
    if fd in (1, 2):
        redirect[fd] = write_end
    else:
        os.dup2(write_end, fd)
        os.close(write_end)
        write_end = fd
    writers.append(write_end)
closing = " ".join("%d>&-" % fd for fd in fds)
program = subprocess.Popen(launcher + ["sh", "-c", "exec %s; read line" % closing],
                           pass_fds=[fd for fd in fds if fd > 2], stdin=subprocess.PIPE,
                           stdout=redirect[1], stderr=redirect[2])
for write_end in writers:
    os.close(write_end)
for fd, read_end in readers.items():
    ended = select.select([read_end], [], [], 10)[0] and os.read(read_end, 1) == b""
    print("fd %d: %s" % (fd, "ended" if ended else "still open"))
program.stdin.close()
program.wait()
