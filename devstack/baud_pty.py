#!/usr/bin/env python3
"""A serial line with two ends that carries bytes only while both ends run at the same baud rate.

Usage: baud_pty.py LINK_A LINK_B

socat's pty pair passes every byte whatever rate each end set, so a scan "across baud rates" would
find a slave at every rate. Real wire does not: at the wrong rate the other end sees noise or
nothing. Here each end is a pty whose settings the opener sets as on a real port (serialport,
pyserial); the master side of a Linux pty reads the slave side's termios, so before forwarding a
chunk this relay compares the two ends' output speeds and drops the chunk when they differ.
Prints READY once both links exist; prints one line per dropped chunk.
"""
import os
import select
import sys
import termios
import tty


def main() -> None:
    link_a, link_b = sys.argv[1], sys.argv[2]
    ends = []
    for link in (link_a, link_b):
        master, slave = os.openpty()
        # Raw and silent, as socat's "raw,echo=0"; the slave fd stays open here so reads on the
        # master never fail with EIO between two openers.
        tty.setraw(slave)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.ttyname(slave), link)
        ends.append((master, slave))
    (ma, _), (mb, _) = ends
    print('READY', flush=True)
    while True:
        readable, _, _ = select.select([ma, mb], [], [])
        speeds = (termios.tcgetattr(ma)[5], termios.tcgetattr(mb)[5])
        for fd in readable:
            data = os.read(fd, 4096)
            other = mb if fd == ma else ma
            if speeds[0] == speeds[1]:
                os.write(other, data)
            else:
                print(f'dropped {len(data)} bytes: speeds differ {speeds}', flush=True)


if __name__ == '__main__':
    main()
