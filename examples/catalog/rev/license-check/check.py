#!/usr/bin/env python3
"""AcmeCAD 2.0 licence checker (recovered from a cracked installer)."""

import sys

EXPECTED = bytes.fromhex("8f17b63adfc4bf76fbb2561f957160b4e45f8ff6554488ea2cd6cedc")


def mangle(key: bytes) -> bytes:
    out = bytearray()
    for i, c in enumerate(key):
        out.append(((c * 7 + i) & 0xFF) ^ 0x5A)
    return bytes(out)


def main() -> int:
    key = input("Licence key: ").strip().encode()
    if len(key) == len(EXPECTED) and mangle(key) == EXPECTED:
        print("Licence accepted. Thank you for choosing AcmeCAD!")
        return 0
    print("Invalid licence key.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
