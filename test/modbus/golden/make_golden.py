#!/usr/bin/env python3
"""Writes the golden conversion cases in this folder, encoding each value with Python's struct (an
encoder independent of gateway/src/ingest/modbus/conversions.ts). Run it only to add cases; the
folders it writes are committed and are what the test reads.

Each case is a folder named after what it pins:
  registers.json  the registers as they arrive, high byte first ("0x1234"), or {"packedBits": [...]}
  tag.json        type, byteOrder, scale, offset, and item (position in the response) when not 0
  expected.json   {"value": number} or {"value": "NaN"}
"""
import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f", "float64": ">d"}
WHAT = {"ABCD": "big-endian", "CDAB": "word-swapped", "BADC": "byte-swapped", "DCBA": "little-endian"}
VALUES = {"int16": -12345, "uint16": 43981, "int32": -123456789, "uint32": 4023233417, "float32": -1234.5, "float64": 123456.789}


def registers(kind, order, value):
    data = struct.pack(FORMATS[kind], value)
    words = [data[i:i + 2] for i in range(0, len(data), 2)]
    if order in ("CDAB", "DCBA"):
        words.reverse()
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    return ["0x%04x" % int.from_bytes(w, "big") for w in words]


def write(name, regs, tag, value):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    for file, content in (("registers.json", regs), ("tag.json", tag), ("expected.json", {"value": value})):
        with open(os.path.join(d, file), "w", encoding="utf8") as f:
            json.dump(content, f)
            f.write("\n")


for kind, value in VALUES.items():
    for order in ("ABCD", "CDAB", "BADC", "DCBA"):
        name = f"{kind}-{order.lower()}-{WHAT[order]}"
        if kind == "float64" and order == "CDAB":
            name += "-reverses-all-four-registers"
        write(name, registers(kind, order, value), {"type": kind, "byteOrder": order}, value)

# Scale and offset apply to the decoded (signed) value: -100 * 0.5 + 10, not 65436 * 0.5 + 10.
write("scale-offset-applied-after-signed-decode", registers("int16", "ABCD", -100),
      {"type": "int16", "byteOrder": "ABCD", "scale": 0.5, "offset": 10}, -40)
# A tag two registers into a merged response reads its own registers, not the first ones.
write("int32-at-item-2-of-a-merged-response", ["0xffff", "0xffff"] + registers("int32", "ABCD", 70000),
      {"type": "int32", "byteOrder": "ABCD", "item": 2}, 70000)
# Coils: item 9 is bit 1 of the second data byte (least significant bit first).
write("bool-item-9-is-bit-1-of-byte-2", {"packedBits": [0x00, 0x02]}, {"type": "bool", "item": 9}, 1)
write("bool-item-8-is-bit-0-of-byte-2", {"packedBits": [0xff, 0xfe]}, {"type": "bool", "item": 8}, 0)
# A device's NaN decodes as NaN (the pipeline's validate step refuses it, with the raw registers kept).
write("float32-nan-decodes-as-nan", ["0x7fc0", "0x0000"], {"type": "float32", "byteOrder": "ABCD"}, "NaN")
