/* SPDX-License-Identifier: MIT */
/*
 * verp.h - recovers the original recipient from a VERP envelope address.
 *
 * Postfix XVERP with delimiters "+=" turns the sender bounces@bounce.example
 * of a message to user@remote.example into the Return-Path
 * bounces+user=remote.example@bounce.example; the bounce comes back to it
 * over LMTP, and this module reads user@remote.example back out of the RCPT.
 * The first delimiter ends the local part; the last occurrence of the
 * second stands for the '@' (a domain has no '=', a local part may).
 */
#ifndef BOUNCED_VERP_H
#define BOUNCED_VERP_H

#include <stddef.h>

/*
 * Decodes rcpt (an LMTP RCPT address, no <>) with delims[0] (local part
 * delimiter) and delims[1] (the '@' stand-in).  Returns 1 and writes the
 * original address (not normalised) to out, 0 when rcpt is not VERP-encoded
 * or the result does not fit in outsz.
 */
int verp_decode(const char *rcpt, const char delims[2], char *out, size_t outsz);

#endif
