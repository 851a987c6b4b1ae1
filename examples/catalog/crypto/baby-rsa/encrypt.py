#!/usr/bin/env python3
"""How output.txt was made. Textbook RSA: what could go wrong?"""

from Crypto.Util.number import bytes_to_long, getPrime

FLAG = open("flag.txt", "rb").read().strip()

e = 3
while True:
    p, q = getPrime(512), getPrime(512)
    if p % 3 != 1 and q % 3 != 1:  # e must be coprime with phi(n)
        break
n = p * q
c = pow(bytes_to_long(FLAG), e, n)

with open("output.txt", "w") as out:
    out.write(f"n = {n}\ne = {e}\nc = {c}\n")
