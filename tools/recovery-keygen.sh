#!/bin/sh
# The organisation's recovery key pair, made on an offline machine with nothing but a POSIX shell
# and OpenSSL (no Python, no clone of the project, no network).
#
#     sh recovery-keygen.sh /media/usb/recovery.key
#
# writes the private half to that file (readable by its owner alone; never overwritten) and
# prints the line for [security] in the server's config. The file is what
# `python -m bot recover --key FILE` reads; it is the same pair `python -m bot recovery-keygen`
# makes: an X25519 key, written as "recovery-private:" and its 32 bytes in hex.
set -eu
umask 077

if [ "$#" -ne 1 ]; then
    echo "usage: sh recovery-keygen.sh FILE   (the private half goes to FILE, e.g. on a USB stick)" >&2
    exit 2
fi
out=$1
if [ -e "$out" ] || [ -L "$out" ]; then
    echo "error: $out exists; a recovery key is never overwritten" >&2
    exit 1
fi
command -v openssl >/dev/null 2>&1 || { echo "error: openssl is needed" >&2; exit 2; }

pem=$(openssl genpkey -algorithm X25519) || { echo "error: openssl cannot make an X25519 key" >&2; exit 2; }
# The raw keys are the last 32 bytes of their DER forms (PKCS#8 and SubjectPublicKeyInfo).
hex_tail() { od -An -v -tx1 | tr -d ' \n' | tail -c 64; }
private=$(printf '%s\n' "$pem" | openssl pkey -outform DER | hex_tail)
public=$(printf '%s\n' "$pem" | openssl pkey -pubout -outform DER | hex_tail)
unset pem
if [ "${#private}" -ne 64 ] || [ "${#public}" -ne 64 ]; then
    echo "error: openssl gave an unexpected key form; nothing written" >&2
    exit 2
fi

# noclobber: a file that appeared meanwhile is not overwritten either.
set -C
printf 'recovery-private:%s\n' "$private" > "$out"
echo "recovery_public_key = \"recovery-public:$public\""
echo "The private half is in $out: keep it offline, never on the server. Put the line above in [security] of the server's config." >&2
