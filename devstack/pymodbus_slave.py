#!/usr/bin/env python3
"""A pymodbus slave for the gateway's Modbus tests: an implementation independent of ours.

Usage: pymodbus_slave.py CONFIG.json

CONFIG:
  {"transport": "tcp", "host": "127.0.0.1", "port": 5020,
   or "transport": "rtu", "device": "/tmp/x/b", "baudrate": 19200, "parity": "E", "stopbits": 1,
   "log": "requests.jsonl",            # one JSON line per request received: unit, fc, address, count
   "units": {"1": {"size": 1000,       # items per table, addresses 0..size-1 (beyond: exception 2)
                   "values": [          # typed values are encoded here, with Python's struct
                     {"table": "holding", "address": 0, "type": "float32", "order": "CDAB", "value": 1.5},
                     {"table": "input", "address": 9, "registers": [1, 2]},
                     {"table": "coils", "address": 0, "bits": [true, false]}],
                   "fault": null | "silent" | {"exception": 6} | "crc"}}}

Faults: "silent" units are left out of the server context, which is told to ignore missing slaves,
so they never answer; {"exception": N} answers every request with exception N; "crc" (RTU only)
flips the last CRC byte of every answer. Prints READY once it serves.
"""
import asyncio
import json
import struct
import sys
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.pdu import ExceptionResponse
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f", "float64": ">d"}


def registers_for(kind, order, value):
    """The registers a device using byte layout `order` holds for `value`."""
    data = struct.pack(FORMATS[kind], int(value) if "int" in kind else float(value))
    words = [data[i:i + 2] for i in range(0, len(data), 2)]
    if order in ("CDAB", "DCBA"):
        words.reverse()
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def build_unit(spec):
    size = spec.get("size", 1000)
    tables = {name: [0] * size for name in ("holding", "input")}
    tables.update({name: [False] * size for name in ("coils", "discrete")})
    for v in spec.get("values", []):
        table = tables[v["table"]]
        if "type" in v:
            items = registers_for(v["type"], v.get("order", "ABCD"), v["value"])
        else:
            items = v.get("registers", v.get("bits"))
        table[v["address"]:v["address"] + len(items)] = items
    # ModbusSlaveContext adds 1 to every PDU address before asking the block.
    return ModbusSlaveContext(
        di=ModbusSequentialDataBlock(1, tables["discrete"]),
        co=ModbusSequentialDataBlock(1, tables["coils"]),
        hr=ModbusSequentialDataBlock(1, tables["holding"]),
        ir=ModbusSequentialDataBlock(1, tables["input"]),
    )


async def main(path):
    with open(path, encoding="utf8") as f:
        cfg = json.load(f)
    units = {int(k): v for k, v in cfg["units"].items()}
    faults = {unit: spec.get("fault") for unit, spec in units.items()}
    context = ModbusServerContext(
        slaves={unit: build_unit(spec) for unit, spec in units.items() if spec.get("fault") != "silent"},
        single=False,
    )
    log = open(cfg["log"], "a", buffering=1, encoding="utf8")

    def trace_pdu(sending, pdu):
        if not sending:
            log.write(json.dumps({"unit": pdu.dev_id, "fc": pdu.function_code, "address": getattr(pdu, "address", None),
                                  "count": getattr(pdu, "count", None), "t": time.time()}) + "\n")
            return pdu
        fault = faults.get(pdu.dev_id)
        if isinstance(fault, dict) and "exception" in fault:
            reply = ExceptionResponse(pdu.function_code & 0x7F, fault["exception"], slave=pdu.dev_id, transaction=pdu.transaction_id)
            return reply
        return pdu

    def trace_packet(sending, packet):
        if sending and cfg["transport"] == "rtu" and len(packet) > 2 and faults.get(packet[0]) == "crc":
            return packet[:-1] + bytes([packet[-1] ^ 0xFF])
        return packet

    common = dict(ignore_missing_slaves=True, trace_pdu=trace_pdu, trace_packet=trace_packet)
    if cfg["transport"] == "tcp":
        server = ModbusTcpServer(context, address=(cfg.get("host", "127.0.0.1"), cfg["port"]), **common)
    else:
        server = ModbusSerialServer(context, port=cfg["device"], baudrate=cfg.get("baudrate", 19200),
                                    parity=cfg.get("parity", "E"), stopbits=cfg.get("stopbits", 1), bytesize=8, **common)
    await server.listen()
    print("READY", flush=True)
    await server.serving


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
