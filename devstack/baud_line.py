#!/usr/bin/env python3
"""A serial line that only carries frames sent at one baud rate, between two pseudo-terminals.

Usage: baud_line.py MASTER_LINK SLAVE_LINK BAUD

A socat pty pair carries bytes whatever speed either end sets, so a baud-rate scan over it finds a
slave at every rate it tries. This line is what a real RS-485 bus does instead: bytes the master's
end writes while its tty is set to another speed never reach the slave as a frame (here: they are
dropped; a real slave sees framing errors and stays silent), so the slave answers only at BAUD.

MASTER_LINK is the gateway's end, SLAVE_LINK the slave's (pymodbus). Both ptys' slave sides stay open
here so the gateway's settings can be read with tcgetattr and a closing end does not hang up the
line. Prints READY once both links exist; stops on SIGTERM.
"""
import os
import select
import signal
import sys
import termios
import tty

SPEEDS = {v: int(k[1:]) for k, v in vars(termios).items() if k.startswith("B") and k[1:].isdigit()}


def pty_at(link):
    master, slave = os.openpty()
    tty.setraw(slave)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.ttyname(slave), link)
    return master, slave


def main():
    master_link, slave_link, baud = sys.argv[1], sys.argv[2], int(sys.argv[3])
    gw_master, gw_slave = pty_at(master_link)
    dev_master, _dev_slave = pty_at(slave_link)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    dropped = 0
    while True:
        ready, _, _ = select.select([gw_master, dev_master], [], [])
        for fd in ready:
            data = os.read(fd, 4096)
            if fd == gw_master:
                speed = SPEEDS.get(termios.tcgetattr(gw_slave)[5], 0)
                if speed == baud:
                    os.write(dev_master, data)
                else:
                    dropped += len(data)
                    print(f"dropped {len(data)} bytes sent at {speed} baud (line runs at {baud}); {dropped} so far", flush=True)
            else:
                os.write(gw_master, data)


if __name__ == "__main__":
    main()
